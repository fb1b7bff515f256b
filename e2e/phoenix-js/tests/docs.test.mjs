// docs/realtime.md's JavaScript, run as written against the real server, so the examples
// cannot rot: its code blocks become one module, with only the endpoint's host replaced and
// the names the prose leaves to the reader (login, api, videoId, render) defined. The whole
// client it shows (a block marked `<!-- example: PATH -->`, a copy of that file) runs on its
// own, in examples.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { startServer, register, postComment, eventually, uniqueVideo } from "./support.mjs";
import { fencedBlocks } from "./markdown.mjs";

const DOC = new URL("../../../docs/realtime.md", import.meta.url);
const DOC_ENDPOINT = "wss://example.com/socket";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

/** The ```js blocks of a markdown text, in order, but for the whole-file examples. */
function jsBlocks(markdown) {
  return fencedBlocks(markdown)
    .filter((block) => block.lang === "js" && !block.example)
    .map((block) => block.code);
}

/** The blocks as one module: imports resolved from here, the endpoint pointed at `server`. */
function asModule(blocks, server) {
  const code = blocks.join("\n");
  assert.ok(code.includes(DOC_ENDPOINT), `the examples connect to ${DOC_ENDPOINT}`);
  const imports = [];
  const body = code
    .split("\n")
    .filter((line) => {
      if (!line.startsWith("import ")) return true;
      imports.push(line.replace(/from "([^"]+)"/, (_, name) => `from "${import.meta.resolve(name)}"`));
      return false;
    })
    .join("\n")
    .replaceAll(DOC_ENDPOINT, `ws://127.0.0.1:${server.port}/socket`);
  return [
    ...imports,
    "const { login, api, videoId, render } = globalThis.__docExample;",
    // The test ends the timers the examples start.
    "const setInterval = (...args) => globalThis.__docExample.timer(globalThis.setInterval(...args));",
    body,
    "Object.assign(globalThis.__docExample, { socket, tokens, refresh, position: () => position, shown });",
  ].join("\n");
}

test("docs/realtime.md's examples connect, join, track presence, refresh and receive comments", async () => {
  const blocks = jsBlocks(await readFile(DOC, "utf8"));
  assert.ok(blocks.length >= 3, `docs/realtime.md has its examples: ${blocks.length}`);
  const user = await register(server, "reader");
  const loginRes = await fetch(`${server.base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `${user.name}@example.com`, password: "e2e-password", device_id: "docs" }),
  });
  assert.equal(loginRes.status, 200);
  const login = await loginRes.json();
  const videoId = uniqueVideo("docs");
  const rendered = [];
  const timers = [];
  const example = {
    login,
    api: server.base,
    videoId,
    render: (list) => rendered.push(list),
    timer: (t) => { timers.push(t); return t; },
  };
  globalThis.__docExample = example;
  const file = joinPath(tmpdir(), `rts-docs-${randomBytes(6).toString("hex")}.mjs`);
  await writeFile(file, asModule(blocks, server));
  try {
    await import(pathToFileURL(file).href);
    assert.equal(timers.length, 1, "the refresh timer was set");
    // presence.onSync rendered the reader, as one key with its connection's meta.
    await eventually(
      () => rendered.some((list) => list.some((p) => p.metas?.some((m) => m.username === user.name))),
      5000,
      "the reader in a rendered presence list",
    );
    // refresh() swaps both tokens for new ones that work.
    const before = { ...example.tokens };
    await example.refresh();
    assert.notEqual(example.tokens.access, before.access);
    assert.notEqual(example.tokens.refresh, before.refresh);
    const me = await fetch(`${server.base}/api/me`, { headers: { authorization: `Bearer ${example.tokens.access}` } });
    assert.equal(me.status, 200);
    // new_comment reaches the room and moves the position, which the rejoin params send.
    assert.equal(example.position(), 0, "an empty room's position");
    const comment = await postComment(server, user, videoId, "from the docs test");
    assert.equal(comment.position, 1);
    await eventually(() => example.position() === comment.position, 5000, "the position to be the new comment's");
    assert.equal(example.shown.get(comment.id)?.content, "from the docs test");
  } finally {
    timers.forEach(clearInterval);
    example.socket?.disconnect();
    await rm(file, { force: true });
    delete globalThis.__docExample;
  }
});
