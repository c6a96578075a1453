// The logs of one e2e run, and the secrets in play in it. Every `natter serve` the e2e tests
// start logs at debug, in JSON, to its own file in one directory per run (not to the test's
// output); the harness and the tests note there every secret they put in play: the JWT
// secrets, API keys and webhook secrets of the bots they load, admin tokens and keys passed in
// the environment, the JWTs they mint, the session tokens the server gives them, sanitized
// values. zz-secrets-in-logs.test.mjs, the suite's last file, scans every line of every log for
// every one of them.
// One run is one `node --test` process: it runs each test file in a child process of its own,
// so the run's directory is named after the parent's pid; $NATTER_E2E_LOGS names another.
import { appendFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

export const RUN_DIR = process.env.NATTER_E2E_LOGS || join(tmpdir(), `natter-e2e-logs-${process.ppid}`);
const SECRETS = join(RUN_DIR, "secrets.jsonl");
const here = basename(process.argv[1] || "e2e").replace(/\.test\.mjs$|\.mjs$/, "");
let servers = 0;

/** A new log file for one server of this test file (appended to by each of its restarts). */
export function logPath() {
  mkdirSync(RUN_DIR, { recursive: true });
  return join(RUN_DIR, `${here}-${process.pid}-${++servers}.log`);
}

/** An fd appending to `path`, for a child's stderr. */
export const appendTo = (path) => openSync(path, "a");

/** The environment of a logging `natter serve`: debug, JSON. */
export const LOG_ENV = { NATTER_LOG: "debug", NATTER_LOG_FORMAT: "json" };

/** Notes secrets in play (empty ones are left out); returns the first. */
export function noteSecret(...values) {
  mkdirSync(RUN_DIR, { recursive: true });
  for (const value of values) {
    if (typeof value === "string" && value !== "") appendFileSync(SECRETS, JSON.stringify({ from: here, value }) + "\n");
  }
  return values[0];
}

// Keys of bot.toml whose values are secrets (`[auth] secret`, `[crm] api_key`,
// `signing_secret`): a test that writes a bot with one does not have to note it.
const SECRET_KEYS = /^\s*(secret|api_key|signing_secret)\s*=\s*"([^"]+)"/gm;

/** Notes the secrets of every bot.toml under `dir` (`dir/<slug>/bot.toml`). */
export function noteBotSecrets(dir) {
  if (!existsSync(dir)) return;
  for (const slug of readdirSync(dir)) {
    const file = join(dir, slug, "bot.toml");
    if (!existsSync(file)) continue;
    for (const [, , value] of readFileSync(file, "utf8").matchAll(SECRET_KEYS)) noteSecret(value);
  }
}

/** Notes the values of environment variables that hold secrets (tokens, keys, secrets). */
export function noteEnvSecrets(env = {}) {
  for (const [k, v] of Object.entries(env)) if (/TOKEN|KEY|SECRET/.test(k)) noteSecret(v);
}

/** Every secret noted in this run, each once. */
export function secrets() {
  if (!existsSync(SECRETS)) return [];
  const all = readFileSync(SECRETS, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return [...new Map(all.map((s) => [s.value, s])).values()];
}

/** The paths of every server log of this run. */
export function logFiles() {
  if (!existsSync(RUN_DIR)) return [];
  return readdirSync(RUN_DIR).filter((f) => f.endsWith(".log")).sort().map((f) => join(RUN_DIR, f));
}
