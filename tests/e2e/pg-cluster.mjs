// A throwaway PostgreSQL cluster for end-to-end tests (the JS twin of testing/src/pg_cluster.rs):
// `initdb` in a temp dir, `pg_ctl start` on 127.0.0.1 and a free port, fsync off (the tests
// kill `natter`, never the database), stopped and deleted by `stop()`.
// PostgreSQL refuses to run as root, so under root the cluster runs as the system user
// `natter-test` (created by scripts/setup) through `runuser`.
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

const USER = "natter-test";

/** The directory of initdb/pg_ctl/psql: $NATTER_PG_BIN, else Debian's newest version. */
function binDir() {
  if (process.env.NATTER_PG_BIN) return process.env.NATTER_PG_BIN;
  const versions = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql").filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`)).sort((a, b) => a - b)
    : [];
  if (!versions.length) throw new Error("PostgreSQL is not installed (scripts/setup installs Debian's postgresql)");
  return `/usr/lib/postgresql/${versions.at(-1)}/bin`;
}

const freePort = () => new Promise((ok, fail) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
  s.on("error", fail);
});

/** Starts a cluster; resolves to {url(db), database(name), stop()}. */
export async function startCluster() {
  const bin = binDir();
  const asUser = process.getuid() === 0;
  const dir = mkdtempSync(join(tmpdir(), "natter-e2e-pg-"));
  if (asUser) {
    const uid = Number(execFileSync("id", ["-u", USER]).toString().trim());
    chownSync(dir, uid, 0);
  }
  const run = (program, args) => {
    const [cmd, argv] = asUser ? ["runuser", ["-u", USER, "--", join(bin, program), ...args]] : [join(bin, program), args];
    return execFileSync(cmd, argv, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }).toString();
  };
  const port = await freePort();
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
  run("pg_ctl", ["start", "-w", "-t", "60", "-D", data, "-l", join(dir, "log"), "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`]);
  const psql = (db, sql) => run("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", db, "-c", sql]);
  const url = (db) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  return {
    url,
    /** A URL of database `name`, created empty. */
    database(name) { psql("postgres", `CREATE DATABASE "${name}"`); return url(name); },
    stop() {
      try { run("pg_ctl", ["stop", "-m", "immediate", "-D", data]); } finally { rmSync(dir, { recursive: true, force: true }); }
    },
  };
}
