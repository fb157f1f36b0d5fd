import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

const ACK = Uint8Array.of(43, 65, 67, 75); // +ACK
const NAK = Uint8Array.of(45, 78, 65, 75); // -NAK
const WPI = Uint8Array.of(43, 87, 80, 73); // +WPI
const TERM = Uint8Array.of(43, 84, 69, 82, 77); // +TERM

/**
 * What answering a JetStream delivery needs, without the message: its stream sequence and reply
 * subject. A consumer that holds many deliveries un-acked (a micro-batch waiting for its commit)
 * keeps only these, not the message with the buffers its bytes were read into.
 *
 * The answers are JetStream's acknowledgement protocol, as `JsMsg` sends them: a publish of `+ACK`,
 * `-NAK`, `+WPI` or `+TERM` to the reply subject; every answer but `+WPI` is final.
 */
export class Delivery {
  readonly seq: number;
  readonly #nc: NatsConnection;
  readonly #reply: string;
  #answered = false;

  constructor(nc: NatsConnection, msg: JsMsg) {
    // nats.js's JsMsg implementation (JsMsgImpl) exposes the reply subject; the JsMsg type does not.
    const reply = (msg as JsMsg & { readonly reply?: unknown }).reply;
    if (typeof reply !== "string") throw new TypeError("a JetStream message without a reply subject");
    this.#nc = nc;
    this.seq = msg.seq;
    this.#reply = reply;
  }

  /** Acknowledges: the server forgets the message for this consumer. */
  ack(): void {
    this.#answer(ACK);
  }

  /** Hands the message back for redelivery now. */
  nak(): void {
    this.#answer(NAK);
  }

  /** Still working on it: the ack wait starts again. */
  working(): void {
    if (!this.#answered && this.#reply !== "") this.#nc.publish(this.#reply, WPI);
  }

  /** Never redeliver it. */
  term(): void {
    this.#answer(TERM);
  }

  #answer(payload: Uint8Array): void {
    if (this.#answered || this.#reply === "") return;
    this.#answered = true;
    this.#nc.publish(this.#reply, payload);
  }
}
