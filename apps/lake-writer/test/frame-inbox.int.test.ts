import { DurableName } from "@inlet/bus";
import { waitFor } from "@inlet/testing";
import type { Consumer, JsMsg } from "@nats-io/jetstream";
import { describe, expect } from "vitest";
import { FrameInbox } from "../src/frame-inbox.js";
import { harnessTest as test } from "./harness.js";

// An inbox on `consumer` of `size()` bytes, counting the frames that arrive in it.
function watchedInbox(consumer: Consumer, size: () => number) {
  const counts = { arrived: 0 };
  const inbox: FrameInbox = new FrameInbox(consumer, {
    maxMessages: 100,
    expiresMs: 1_000,
    room: () => size() - inbox.bytes,
    get capacity() {
      return size();
    },
    onFrame: () => counts.arrived++,
    onFetchError: (err) => {
      throw err;
    },
  });
  return { inbox, counts };
}

describe("FrameInbox", () => {
  test("fetches no more than its room allows, goes on as frames are released, and keeps what it fetched when stopped", async ({
    harness,
  }) => {
    await harness.ensureCuratedConsumer("orders");
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) seqs.push(await harness.publishOrders(harness.orders(50)));
    const consumer = await harness.bus.js.consumers.get(harness.stream(), DurableName.lakeWriter("orders"));
    // One byte of room: less than any frame.
    let room = 1;
    const { inbox, counts } = watchedInbox(consumer, () => room);
    inbox.start();
    // Room for less than one frame: one frame, since the inbox is empty.
    await waitFor(() => counts.arrived === 1, { message: "the first frame" });
    const first = inbox.take()!;
    expect(first.seq).toBe(seqs[0]);
    // Room for two frames and a half once the first is released (frames differ by a few bytes).
    room = 2.5 * first.data.length;
    inbox.release(first);
    await waitFor(() => counts.arrived === 3, { message: "two more frames" });
    // Full: nothing more comes while they are held.
    await new Promise((r) => setTimeout(r, 300));
    expect(inbox.frames).toBe(2);
    expect(counts.arrived).toBe(3);
    const taken: JsMsg[] = [];
    for (let msg = inbox.take(); msg !== undefined; msg = inbox.take()) taken.push(msg);
    for (const msg of taken) inbox.release(msg);
    await waitFor(() => counts.arrived >= 4, { message: "frames after the release" });
    await inbox.stop();
    expect(inbox.pulled).toBe(true);
    // What the last fetch brought is still there to take: nothing is lost in transit.
    const rest: number[] = [];
    for (let msg = inbox.take(); msg !== undefined; msg = inbox.take()) rest.push(msg.seq);
    expect([first.seq, ...taken.map((m) => m.seq), ...rest]).toEqual(
      seqs.slice(0, 1 + taken.length + rest.length),
    );
    expect(1 + taken.length + rest.length).toBe(counts.arrived);
  });

  test("while frames wait in it, fetches again only once half its room is free, so fetches stay large", async ({
    harness,
  }) => {
    await harness.ensureCuratedConsumer("orders");
    for (let i = 0; i < 8; i++) await harness.publishOrders(harness.orders(50));
    const consumer = await harness.bus.js.consumers.get(harness.stream(), DurableName.lakeWriter("orders"));
    let capacity = 1;
    const { inbox, counts } = watchedInbox(consumer, () => capacity);
    inbox.start();
    await waitFor(() => counts.arrived === 1, { message: "the first frame" });
    const first = inbox.take()!;
    // Room for four frames and a half (frames differ by a few bytes).
    capacity = 4.5 * first.data.length;
    inbox.release(first);
    await waitFor(() => counts.arrived === 5, { message: "four more frames" });
    const settle = () => new Promise((r) => setTimeout(r, 300));
    // One frame handled: room for one and a half, less than half the inbox. No fetch of one frame.
    inbox.release(inbox.take()!);
    await settle();
    expect(counts.arrived).toBe(5);
    // Two handled: room for two and a half, over half of it. One fetch brings two.
    inbox.release(inbox.take()!);
    await waitFor(() => counts.arrived === 7, { message: "two frames in one fetch" });
    await settle();
    expect(counts.arrived).toBe(7);
    await inbox.stop();
  });
});
