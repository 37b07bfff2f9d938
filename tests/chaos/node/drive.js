// Drive a Toxiproxy-compatible server with toxiproxy-node-client; print one JSON line of facts.
// usage: node drive.js API_URL UPSTREAM_HOST:PORT
"use strict";
const net = require("net");
const { Toxiproxy } = require("toxiproxy-node-client");

function roundtrip(listen, payload) {
  const [host, port] = [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))];
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect({ host, port });
    let got = "";
    const done = (outcome) => { sock.destroy(); resolve({ outcome, got, ms: Date.now() - started }); };
    sock.setTimeout(3000, () => done("timeout"));
    sock.on("connect", () => sock.write(payload));
    sock.on("data", (d) => { got += d.toString(); if (got.length >= payload.length) done("ok"); });
    sock.on("error", (e) => done(e.code || "error"));
    sock.on("close", () => done("closed"));
  });
}

async function main() {
  const [api, upstream] = process.argv.slice(2);
  const toxiproxy = new Toxiproxy(api);
  const facts = {};
  facts.version = await toxiproxy.getVersion();
  const proxy = await toxiproxy.createProxy({ name: "node_pms", listen: "127.0.0.1:0", upstream });
  facts.created = proxy.toJson();
  facts.plain = await roundtrip(proxy.listen, "hello");
  const toxic = await proxy.addToxic({ type: "latency", stream: "downstream", toxicity: 1, attributes: { latency: 200 } });
  facts.toxic = toxic.toJson();
  facts.slow = await roundtrip(proxy.listen, "slow");
  const updated = await toxic.update({ attributes: { latency: 50, jitter: 0 }, toxicity: 1 });
  facts.updated = updated.toJson();
  facts.fetched = (await proxy.getToxic(toxic.name)).toJson();
  await toxic.remove();
  facts.after_remove = await roundtrip(proxy.listen, "fast");
  const disabled = await proxy.update({ enabled: false, listen: proxy.listen, upstream });
  facts.disabled = disabled.toJson();
  facts.while_disabled = await roundtrip(proxy.listen, "refused?");
  await proxy.addToxic({ type: "limit_data", stream: "upstream", toxicity: 1, attributes: { bytes: 1 } });
  await toxiproxy.reset();
  const again = await toxiproxy.get("node_pms");
  facts.after_reset = again.toJson();
  facts.after_reset_toxics = (await toxiproxy.getApi().get(`${api}/proxies/node_pms/toxics`)).data;
  facts.after_reset_trip = await roundtrip(again.listen, "back");
  const populated = await toxiproxy.populate([{ name: "node_pop", listen: "127.0.0.1:0", upstream, enabled: true }]);
  facts.populated = Object.keys(populated);
  facts.all = Object.keys(await toxiproxy.getAll()).sort();
  try {
    await proxy.addToxic({ type: "earthquake", stream: "downstream", toxicity: 1, attributes: {} });
    facts.bad_toxic = "accepted";
  } catch (e) {
    facts.bad_toxic = e.message;
  }
  await proxy.remove();
  facts.after_delete = Object.keys(await toxiproxy.getAll()).sort();
  process.stdout.write(JSON.stringify(facts) + "\n");
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(1); });
