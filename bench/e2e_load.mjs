// libxmtp (node-sdk 5.5.0) senders for bench/e2e.py's latency figures: `senders` fresh clients each open a DM
// with the target, warm it up (one text answered), then on "go" send texts at `rate` per second in all for
// `seconds`, and time each text from just before its sendText to its echo arriving on the sender's stream.
//
//   node bench/e2e_load.mjs <devnode url> <target inbox id> <senders> <rate> <seconds> [<wait s>]
// stdout: {"ready": true} after the warm-up, then one JSON result after "go" on stdin.

import { performance } from "node:perf_hooks";

import { emit, isText, newClient, stdinLines } from "./e2e_xmtp.mjs";

const [apiUrl, target, senders, rate, seconds, waitS] = process.argv.slice(2);
const count = Number(senders);
const perSecond = Number(rate);
const waitMs = Number(waitS ?? 60) * 1000;
const sentAt = new Map(); // text -> time its send started
const latencies = [];
const sendMs = [];
let sendErrors = 0;
const pending = new Map(); // text -> resolve, for the warm-up

function received(text) {
  const start = sentAt.get(text);
  if (start !== undefined) {
    latencies.push(performance.now() - start);
    sentAt.delete(text);
  }
  pending.get(text)?.();
  pending.delete(text);
}

async function sender(i) {
  const client = await newClient(apiUrl);
  const dm = await client.conversations.createDm(target);
  await client.conversations.streamAllMessages({
    onValue: (msg) => {
      if (msg.senderInboxId === target && isText(msg) && msg.content.startsWith("echo: ")) received(msg.content.slice(6));
    },
    onError: (err) => process.stderr.write(`stream error: ${err}\n`),
  });
  const warm = new Promise((resolve) => pending.set(`w${i}`, resolve));
  await dm.sendText(`w${i}`);
  await warm;
  return dm;
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] : null);

const dms = await Promise.all([...Array(count).keys()].map(sender));
emit({ ready: true });
const next = stdinLines();
while ((await next()) !== "go");
const start = performance.now();
const perSender = Math.max(1, Math.round((perSecond * Number(seconds)) / count));
await Promise.all(
  dms.map(async (dm, i) => {
    for (let k = 0; k < perSender; k += 1) {
      const due = start + ((k * count + i) * 1000) / perSecond; // senders staggered over each interval
      const delay = due - performance.now();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const text = `t${i}-${k}`;
      const before = performance.now();
      sentAt.set(text, before);
      try {
        await dm.sendText(text);
        sendMs.push(performance.now() - before);
      } catch (err) {
        sendErrors += 1;
        sentAt.delete(text);
        process.stderr.write(`send failed: ${err}\n`);
      }
    }
  }),
);
const sendingS = (performance.now() - start) / 1000;
const deadline = performance.now() + waitMs;
while (sentAt.size && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const sorted = [...latencies].sort((a, b) => a - b);
const sortedSend = [...sendMs].sort((a, b) => a - b);
emit({
  sent: perSender * count - sendErrors,
  received: latencies.length,
  sendErrors,
  sendingS,
  offeredPerS: (perSender * count) / sendingS,
  p50Ms: percentile(sorted, 0.5),
  p99Ms: percentile(sorted, 0.99),
  maxMs: sorted.at(-1) ?? null,
  sendP50Ms: percentile(sortedSend, 0.5),
  totalS: (performance.now() - start) / 1000,
});
process.exit(0);
