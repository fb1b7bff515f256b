// The docs' whole examples, run exactly as written against the real server: the Node room
// client docs/realtime.md shows (docs/examples/room-client.mjs, started with the command the
// page gives) and docs/api.md's curl walkthrough (its bash blocks, with only BASE set). Every
// block of docs/*.md marked `<!-- example: PATH -->` must be the file at PATH, byte for byte.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { startServer, register, postComment, connect, join, push, eventually, uniqueVideo } from "./support.mjs";
import { freePort } from "../../shared/server.mjs";
import { fencedBlocks, exampleMarkers, section } from "./markdown.mjs";

const ROOT = new URL("../../../", import.meta.url);
const EXAMPLES = fileURLToPath(new URL("docs/examples/", ROOT));
const CLIENT = "docs/examples/room-client.mjs";
const read = (path) => readFile(new URL(path, ROOT), "utf8");

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

/** Starts `command args`; `output()` is its stdout so far, `exited` resolves {code, stdout, stderr}. */
function start(command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d) => { stdout += d; });
  child.stderr.setEncoding("utf8").on("data", (d) => { stderr += d; });
  const exited = new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, exited, output: () => stdout, errors: () => stderr };
}

/** Waits until the process's stdout has `text`, saying what it printed if it never does. */
async function printed(proc, text, ms = 5000) {
  try {
    await eventually(() => proc.output().includes(text), ms, JSON.stringify(text));
  } catch (e) {
    throw new Error(`${e.message}; stdout:\n${proc.output()}\nstderr:\n${proc.errors()}`);
  }
}

/** A REST call with `user`'s token; answers the status and the parsed body. */
async function call(method, path, user, body) {
  const res = await fetch(`${server.base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(user && { authorization: `Bearer ${user.token}` }) },
    body: body && JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

test("every block of docs/*.md marked <!-- example: PATH --> is the file at PATH, byte for byte", async () => {
  const docs = (await readdir(new URL("docs/", ROOT))).filter((name) => name.endsWith(".md"));
  const copies = [];
  for (const name of docs) {
    const markdown = await read(`docs/${name}`);
    const marked = fencedBlocks(markdown).filter((block) => block.example);
    assert.deepEqual(marked.map((b) => b.example), exampleMarkers(markdown),
      `docs/${name}: each <!-- example: PATH --> line is right before an opening fence`);
    for (const { example, code } of marked) {
      const file = await read(example).catch(() => assert.fail(`docs/${name} copies ${example}, which is not there`));
      assert.equal(code, file, `docs/${name}'s copy of ${example} is not the file: paste the file in again`);
      copies.push(`docs/${name}: ${example}`);
    }
  }
  assert.ok(copies.includes(`docs/realtime.md: ${CLIENT}`), `docs/realtime.md shows ${CLIENT}: ${copies}`);
});

test("the room client runs as docs/realtime.md says, prints the room's life and exits 0", async () => {
  // The command the page gives, run from the repository's root with the test server's options
  // after its own (the last --seconds counts).
  const commands = fencedBlocks(await read("docs/realtime.md"))
    .filter((b) => b.lang === "sh" && b.code.includes("node room-client.mjs"));
  assert.equal(commands.length, 1, "docs/realtime.md gives one command that runs the client");
  const command = commands[0].code.trim();
  assert.ok(command.startsWith("cd docs/examples && npm ci && node room-client.mjs"), command);

  const reader = await register(server, "client");
  const other = await register(server, "poster");
  const video = uniqueVideo("example");
  const earlier = await postComment(server, other, video, "posted before the client came");
  const options = ["--url", server.base, "--email", `${reader.name}@example.com`, "--password", "e2e-password",
    "--video", video, "--seconds", "4"];
  const client = start("bash", ["-c", `${command} ${options.map((o) => `'${o}'`).join(" ")}`],
    { cwd: fileURLToPath(ROOT) });
  const socket = connect(server, other);
  try {
    // npm ci comes first; the join reply's comments are printed oldest first.
    await printed(client, `joined video:${video} (1 recent comments)`, 60000);
    await printed(client, `#${earlier.position} ${other.name}: ${earlier.content}`);
    await printed(client, `here: ${reader.name}`);
    // Presence: another user comes in, reacts, comments, edits, deletes, and goes.
    const channel = socket.channel(`video:${video}`, {});
    await join(channel);
    await printed(client, `here: ${other.name}`);
    assert.equal((await push(channel, "reaction", { emoji: "🎉" })).status, "ok");
    await printed(client, `reaction 🎉 from ${other.name}`);
    const live = await postComment(server, other, video, "a live comment");
    await printed(client, `new #${live.position} ${other.name}: a live comment`);
    assert.equal((await call("PATCH", `/api/comments/${live.id}`, other, { content: "a live comment, edited" })).status, 200);
    await printed(client, `edited #${live.position} ${other.name}: a live comment, edited`);
    assert.equal((await call("DELETE", `/api/comments/${live.id}`, other)).status, 204);
    await printed(client, `deleted #${live.position} ${other.name}: a live comment, edited`);
    channel.leave();
    await printed(client, `left: ${other.name}`);
  } finally {
    socket.disconnect();
  }
  const { code, stdout, stderr } = await client.exited;
  assert.equal(code, 0, `the client exits 0 after --seconds; stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.ok(stdout.includes(`signed in as ${reader.name}`), stdout);
});

test("the room client works in a large room too: the count, counted reactions, held comments", async () => {
  // A room is large here from its first viewer, with a budget of one comment a second.
  const large = await startServer({ RTS_ROOM_LARGE_MEMBERS: "1", RTS_ROOM_TICK_MS: "100", RTS_ROOM_COMMENTS_PER_SECOND: "1" });
  const reader = await register(large, "bigreader");
  const other = await register(large, "bigposter");
  const video = uniqueVideo("example-large");
  const client = start("node", ["room-client.mjs", "--url", large.base, "--email", `${reader.name}@example.com`,
    "--password", "e2e-password", "--video", video, "--seconds", "4"], { cwd: EXAMPLES });
  const socket = connect(large, other);
  try {
    await printed(client, "the room is large: reactions are counted and some comments are sampled", 10000);
    await printed(client, "1 watching");
    const channel = socket.channel(`video:${video}`, {});
    await join(channel);
    await printed(client, "2 watching");
    for (const emoji of ["🎉", "🎉", "👏"]) assert.equal((await push(channel, "reaction", { emoji })).status, "ok");
    await printed(client, "reactions 🎉×2 👏×1");
    // The reader's own comments past the budget come back marked as held.
    for (let i = 0; i < 3; i += 1) await postComment(large, reader, video, `busy ${i}`);
    await printed(client, "held (only you and moderators see it)");
  } finally {
    socket.disconnect();
  }
  const { code, stdout, stderr } = await client.exited;
  await large.stop();
  assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.ok(!stdout.includes("here: "), `no presence lines in a large room:\n${stdout}`);
});

test("the room client says why it cannot sign in, with the server's message, and exits non-zero", async () => {
  const user = await register(server, "wrongpw");
  const email = `${user.name}@example.com`;
  const refused = await call("POST", "/api/auth/login", null, { email, password: "not-the-password" });
  assert.equal(refused.status, 401);
  const run = start("node", ["room-client.mjs", "--url", server.base, "--email", email, "--password", "not-the-password"],
    { cwd: EXAMPLES });
  const { code, stdout, stderr } = await run.exited;
  assert.notEqual(code, 0, stdout);
  assert.ok(stderr.includes(refused.body.error.message), `the server's message in: ${stderr}`);
  assert.ok(!stdout.includes("signed in"), stdout);
});

test("the room client names the server it cannot reach and how to start one", async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const { code, stderr } = await start("node", ["room-client.mjs", "--url", url], { cwd: EXAMPLES }).exited;
  assert.notEqual(code, 0);
  assert.ok(stderr.includes(url) && stderr.includes("cargo xtask dev"), stderr);
});

test("docs/api.md's curl walkthrough runs as written with bash -euo pipefail", async () => {
  for (const tool of ["curl", "jq"]) {
    const found = spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
    assert.ok(found, `${tool} is needed for docs/api.md's walkthrough (sudo apt-get install -y curl jq)`);
  }
  // Its blocks are ```bash (they use bash's <<<), which also keeps them from the ```sh curl
  // lines crates/server/tests/it/docs.rs sends one by one, without the shell's variables.
  const script = fencedBlocks(section(await read("docs/api.md"), "## Walkthrough with curl"))
    .filter((b) => b.lang === "bash")
    .map((b) => b.code)
    .join("\n");
  assert.ok(script.includes("BASE=${BASE:-"), "the walkthrough starts from BASE");
  const video = script.match(/^VIDEO=(\S+)$/m)?.[1];
  assert.ok(video, "the walkthrough names its video");
  const list = async () => (await call("GET", `/api/videos/${video}/comments?limit=100`)).body.comments;
  const before = (await list())[0]?.position ?? 0;

  const { code, stdout, stderr } = await start("bash", ["-euo", "pipefail", "-c", script],
    { env: { ...process.env, BASE: server.base } }).exited;
  assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);

  // It posted three comments on the video, edited the first and deleted it.
  const kept = (await list()).filter((c) => c.position > before);
  assert.deepEqual(kept.map((c) => c.position), [before + 3, before + 2], JSON.stringify(kept));
  assert.equal(new Set(kept.map((c) => c.user_id)).size, 1, "one author");
  assert.match(stdout, /"version": 2/, "the edit answered version 2");
  // The status lines it prints are the ones its comments announce (`# 404` after the delete,
  // `# 401` after the logout).
  const announced = [...script.matchAll(/%\{http_code\}.*# (\d{3})$/gm)].map((m) => m[1]);
  assert.ok(announced.length >= 2, script);
  assert.deepEqual(stdout.split("\n").filter((line) => /^\d{3}$/.test(line)), announced, stdout);
});
