// Presence, synced through phoenix.js's own Presence class.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Presence } from "phoenix";
import { startServer, register, connect, join, eventually, uniqueVideo } from "./support.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

/** A channel with a Presence attached; `list()` gives {userId: [device ids]}. */
function watched(socket, topic) {
  const channel = socket.channel(topic);
  const presence = new Presence(channel);
  const list = () => Object.fromEntries(presence.list((id, { metas }) => [id, metas.map((m) => m.device_id).sort()]));
  return { channel, presence, list };
}

test("presence lists every user once, with one meta per connection", async () => {
  const [ann, bob] = [await register(server, "ann"), await register(server, "bob")];
  const topic = `video:${uniqueVideo()}`;
  const tab1 = connect(server, ann);
  const tab2 = connect(server, ann);
  const bobs = connect(server, bob);
  try {
    const w1 = watched(tab1, topic);
    await join(w1.channel);
    await join(watched(tab2, topic).channel);
    const wb = watched(bobs, topic);
    await join(wb.channel);
    const expected = { [ann.user.id]: ["node", "node"], [bob.user.id]: ["node"] };
    await eventually(() => JSON.stringify(w1.list()) === JSON.stringify(expected), 5000, "ann's view");
    await eventually(() => JSON.stringify(wb.list()) === JSON.stringify(expected), 5000, "bob's view");
    const metas = w1.presence.state[ann.user.id].metas;
    assert.equal(metas[0].username, ann.name);
    assert.ok(metas[0].online_at > 0);
    assert.notEqual(metas[0].phx_ref, metas[1].phx_ref);

    // One tab leaves: ann stays with one meta; then bob disconnects entirely.
    tab2.disconnect();
    await eventually(() => w1.list()[ann.user.id]?.length === 1, 5000, "one of ann's tabs to leave");
    const left = [];
    w1.presence.onLeave((id, current) => { if (current.metas.length === 0) left.push(id); });
    bobs.disconnect();
    await eventually(() => left.includes(bob.user.id), 5000, "bob to leave");
    assert.deepEqual(Object.keys(w1.list()), [ann.user.id]);
  } finally {
    tab1.disconnect();
    tab2.disconnect();
    bobs.disconnect();
  }
});

test("a joiner's first sync already lists itself and everyone there", async () => {
  const [ann, bob] = [await register(server, "ann"), await register(server, "bob")];
  const topic = `video:${uniqueVideo()}`;
  const anns = connect(server, ann);
  const bobs = connect(server, bob);
  try {
    await join(watched(anns, topic).channel);
    const wb = watched(bobs, topic);
    const syncs = [];
    wb.presence.onSync(() => syncs.push(Object.keys(wb.list()).sort()));
    await join(wb.channel);
    await eventually(() => syncs.length > 0, 5000, "bob's first sync");
    assert.deepEqual(syncs[0], [ann.user.id, bob.user.id].sort(), "the presence_state itself");
  } finally {
    anns.disconnect();
    bobs.disconnect();
  }
});
