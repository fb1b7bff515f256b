// Shared helpers: a real realtime-server process per test file, REST sign-up, and the
// unmodified phoenix client with the `ws` package as its WebSocket.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { Socket } from "phoenix";
import { eventually, freePort, serverProcess, testServerEnv } from "../../shared/server.mjs";

const BIN = process.env.RTS_E2E_SERVER_BIN;
const DATABASE_URL = process.env.RTS_E2E_DATABASE_URL;
if (!BIN || !DATABASE_URL) {
  throw new Error("run through `cargo xtask test` (RTS_E2E_SERVER_BIN and RTS_E2E_DATABASE_URL are not set)");
}

export { eventually };

/** Starts the server on a free port, with `settings` added to its environment;
 * `restart()` brings it back on the same port. */
export async function startServer(settings = {}) {
  const port = await freePort();
  const server = await serverProcess(BIN, port, {
    ...testServerEnv(DATABASE_URL, "phoenix-js-e2e-secret-0123456789abcdef"),
    ...settings,
  });
  const restart = async () => {
    await server.stop();
    await server.start();
  };
  return { base: server.base, port, stop: server.stop, restart };
}

/** Registers a user with a unique name; returns its tokens and profile. */
export async function register(server, name) {
  const unique = `${name}${randomBytes(4).toString("hex")}`;
  const res = await fetch(`${server.base}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `${unique}@example.com`, username: unique, password: "e2e-password", device_id: "node" }),
  });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${await res.text()}`);
  const body = await res.json();
  return { token: body.access_token, user: body.user, name: unique };
}

/** Posts a comment over REST. */
export async function postComment(server, user, video, content) {
  const res = await fetch(`${server.base}/api/videos/${video}/comments`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` },
    body: JSON.stringify({ content }),
  });
  if (res.status !== 201) throw new Error(`post answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** A connected phoenix Socket for the user (token as a query parameter unless `authToken`). */
export function connect(server, user, options = {}) {
  const { useAuthToken, ...rest } = options;
  const socket = new Socket(`ws://127.0.0.1:${server.port}/socket`, {
    transport: WebSocket,
    ...(useAuthToken ? { authToken: user.token } : { params: { token: user.token } }),
    ...rest,
  });
  socket.connect();
  return socket;
}

/** Joins `channel`, resolving with the ok response (rejecting on error or timeout). */
export function join(channel) {
  return new Promise((resolve, reject) => {
    channel
      .join()
      .receive("ok", resolve)
      .receive("error", (e) => reject(new Error(`join refused: ${JSON.stringify(e)}`)))
      .receive("timeout", () => reject(new Error("join timed out")));
  });
}

/** Pushes and resolves with the reply: {status, response}. */
export function push(channel, event, payload) {
  return new Promise((resolve) => {
    channel
      .push(event, payload)
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

export function uniqueVideo(prefix = "v") {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

/** nginx in front of `nodes` with deploy/nginx/realtime-server.conf, on a free port. */
export async function startBalancer(nodes) {
  const nginx = process.env.RTS_E2E_NGINX;
  if (!nginx) throw new Error("nginx is needed (sudo apt-get install -y nginx-light); run through `cargo xtask test`");
  const port = await freePort();
  const dir = mkdtempSync(joinPath(tmpdir(), "rts-e2e-nginx-"));
  const site = readFileSync(new URL("../../../deploy/nginx/realtime-server.conf", import.meta.url), "utf8")
    .replace("listen 4000;", `listen 127.0.0.1:${port};`);
  const upstream = `upstream realtime_nodes {\n${nodes
    .map((n) => `    server 127.0.0.1:${n.port} max_fails=1 fail_timeout=2s;`)
    .join("\n")}\n}\n`;
  const temp = (name) => `    ${name}_temp_path ${dir}/${name};\n`;
  const conf = `daemon off;\npid ${dir}/nginx.pid;\nerror_log stderr crit;\nworker_processes 1;\nevents {}\nhttp {\n    access_log off;\n${
    ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(temp).join("")}${upstream}${site}}\n`;
  writeFileSync(`${dir}/nginx.conf`, conf);
  const child = spawn(nginx, ["-c", `${dir}/nginx.conf`, "-p", dir], { stdio: ["ignore", "ignore", "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    try {
      return (await fetch(`${base}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 10000, "nginx");
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  return { base, port, stop };
}
