// What the Node end-to-end suites (e2e/phoenix-js, e2e/browser) share: a free port, polling
// until something holds, the settings a test server starts from, and a realtime-server process
// that can be stopped and started again on the same port. Node built-ins only, so either package can import it.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A port nothing listens on now. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a truthy value (or throws after `ms`). */
export async function eventually(check, ms = 5000, what = "condition", every = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

/** The settings every e2e server starts from: its database, a test secret, quiet logs and no
 * rate limits (a test that needs one sets it in its own settings). */
export function testServerEnv(databaseUrl, jwtSecret) {
  return {
    PATH: process.env.PATH,
    RTS_DATABASE_URL: databaseUrl,
    RTS_JWT_SECRET: jwtSecret,
    RTS_LOG_LEVEL: "warn",
    RTS_RATE_COMMENTS_PER_USER: "0",
    RTS_RATE_COMMENTS_PER_DEVICE: "0",
    RTS_RATE_LOGINS_PER_IP: "0",
    RTS_RATE_LOGINS_PER_ACCOUNT: "0",
    RTS_RATE_REGISTRATIONS_PER_IP: "0",
  };
}

/** `bin serve` on `port` with `env` (its RTS_HTTP_ADDR set here), up once /healthz answers;
 * `stop()` sends SIGTERM and waits for the exit, `start()` brings it back. */
export async function serverProcess(bin, port, env) {
  const base = `http://127.0.0.1:${port}`;
  let child;
  const start = async () => {
    child = spawn(bin, ["serve"], {
      env: { ...env, RTS_HTTP_ADDR: `127.0.0.1:${port}` },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await eventually(async () => {
      try {
        return (await fetch(`${base}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 30000, `the server on ${base}`);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  await start();
  return { base, port, start, stop };
}
