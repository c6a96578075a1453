// The sign-in page: trades the admin token for a session cookie (HttpOnly, set by the server),
// then opens the console. The token is never stored by the page.
const form = document.getElementById("sign-in");
const error = document.getElementById("error");

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.hidden = true;
  const token = form.token.value;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const r = await fetch("/console/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
      credentials: "same-origin",
    });
    if (r.ok) {
      location.replace("/console/");
      return;
    }
    const body = await r.json().catch(() => null);
    error.textContent = body?.error?.message || `Sign-in failed (HTTP ${r.status}).`;
  } catch {
    error.textContent = "Natter is not answering: is the server running?";
  } finally {
    button.disabled = false;
  }
  error.hidden = false;
  form.token.select();
});
