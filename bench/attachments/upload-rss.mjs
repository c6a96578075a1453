// Peak memory of `natter serve` uploading one large file, beside the same server idle.
//
// Starts the built binary ($NATTER_BIN, else target/release/natter, else target/debug/natter)
// on a free 127.0.0.1 port with a throwaway data folder and one bot that takes files up to
// 64 MiB, creates a thread, reads the process's peak RSS (VmHWM) idle, uploads a file of
// BENCH_MB megabytes (default 10; a PNG signature then random bytes) and reads the peak again,
// then downloads it back (checking the bytes) and reads the peak a third time. Prints the
// three figures and the upload/download times. Not a timed test: figures only.
// BENCH_S3=1: the bytes go to an S3 bucket on moto's server (python3 -m moto.server, on a free
// 127.0.0.1 port; scripts/setup installs it) instead of the SQLite store.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";

const root = resolve(import.meta.dirname, "../..");
const bin = process.env.NATTER_BIN
  || [join(root, "target/release/natter"), join(root, "target/debug/natter")].find(existsSync);
if (!bin) throw new Error("build natter first: cargo build --release -p natter-server");
const mb = Number(process.env.BENCH_MB || 10);

const freePort = () => new Promise((ok) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); });
});
const port = await freePort();
const waitOk = async (url, what) => {
  for (let i = 0; ; i++) {
    try { if ((await fetch(url)).ok) return; } catch {}
    if (i > 1200) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

// The object store, when asked for: moto's S3 server and a bucket on it.
const s3 = process.env.BENCH_S3 === "1" ? { port: await freePort() } : null;
const env = { ...process.env };
if (s3) {
  s3.proc = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(s3.port)], { stdio: "ignore" });
  const endpoint = `http://127.0.0.1:${s3.port}`;
  await waitOk(`${endpoint}/`, "moto's S3 server");
  await fetch(`${endpoint}/bench`, { method: "PUT" });
  Object.assign(env, {
    NATTER_S3_BUCKET: "bench", NATTER_S3_ENDPOINT: endpoint, NATTER_S3_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench",
  });
}
const dir = mkdtempSync(join(tmpdir(), "natter-bench-att-"));
mkdirSync(join(dir, "bots/files"), { recursive: true });
writeFileSync(join(dir, "bots/files/bot.toml"), `name = "Files"
[attachments]
max_file_bytes = 67108864
max_conversation_bytes = 134217728
`);
const child = spawn(bin, ["serve", "--addr", `127.0.0.1:${port}`, "--data", join(dir, "data"), "--bots", join(dir, "bots")],
  { stdio: "ignore", env });
const origin = `http://127.0.0.1:${port}`;
const kib = (field) => Number(readFileSync(`/proc/${child.pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+)`))[1]);
const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;

try {
  await waitOk(`${origin}/healthz`, "natter");
  const { threadId } = await (await fetch(`${origin}/v1/bots/files/threads`, { method: "POST" })).json();
  await new Promise((r) => setTimeout(r, 500));
  const idle = { rss: kib("VmRSS"), peak: kib("VmHWM") };

  const file = Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), randomBytes(mb * 1024 * 1024 - 8)]);
  const t0 = performance.now();
  const r = await fetch(`${origin}/v1/threads/${threadId}/attachments?name=big.png&clientId=bench`, { method: "POST", body: file });
  const up = await r.json();
  if (r.status !== 201) throw new Error(`upload: ${r.status} ${JSON.stringify(up)}`);
  const upMs = performance.now() - t0;
  const afterUpload = kib("VmHWM");

  const t1 = performance.now();
  const back = Buffer.from(await (await fetch(origin + up.attachment.url)).arrayBuffer());
  const downMs = performance.now() - t1;
  if (!back.equals(file)) throw new Error("downloaded bytes differ");
  const afterDownload = kib("VmHWM");

  console.log(`natter: ${bin}; bytes in ${s3 ? "S3 (moto)" : "the SQLite store"}`);
  console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`idle server:            RSS ${mib(idle.rss)}, peak RSS ${mib(idle.peak)}`);
  console.log(`after a ${mb} MiB upload:   peak RSS ${mib(afterUpload)} (+${mib(afterUpload - idle.peak)}), upload ${upMs.toFixed(0)} ms`);
  console.log(`after downloading it:   peak RSS ${mib(afterDownload)} (+${mib(afterDownload - idle.peak)}), download ${downMs.toFixed(0)} ms`);
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  s3?.proc.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
