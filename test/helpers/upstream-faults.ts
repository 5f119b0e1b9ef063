/**
 * The faults a test can make the upstream commit. Two sorts: content
 * faults change what is served for one version (a tampered tarball, a
 * packument advertising the integrity of other bytes); delivery faults
 * change how a response goes out (a status, a cut, an endless or stalled
 * body, a hold until the test releases it) for one kind of request, for
 * every package or one. Delivery faults apply in the order they were set,
 * the first that matches wins; a hold is used up by the request it holds.
 */

export type UpstreamKind = "packument" | "tarball";

export type Delivery =
  | { readonly how: "status"; readonly code: number }
  | { readonly how: "truncate" }
  | { readonly how: "endless" }
  | { readonly how: "stall" };

export interface Hold {
  /** Resolves when the held request has come in. */
  readonly arrived: Promise<void>;
  /** Lets the held request go on (before it arrives: lets it through unheld). */
  release(): void;
}

interface DeliveryRule {
  readonly kind: UpstreamKind | undefined;
  readonly name: string | undefined;
  readonly delivery: Delivery;
}

interface HoldRule {
  readonly kind: UpstreamKind;
  readonly name: string;
  arrive(): void;
  readonly released: Promise<void>;
  release(): void;
}

const versionKey = (name: string, version: string) => `${name}@${version}`;

export class Faults {
  readonly #tampered = new Set<string>();
  readonly #wrongIntegrity = new Set<string>();
  #rules: DeliveryRule[] = [];
  #holds: HoldRule[] = [];
  /** Holds whose request has come in and waits. */
  readonly #waiting = new Set<HoldRule>();
  /** Bumped whenever what a packument advertises may change, so rendered packuments are redone. */
  #epoch = 0;

  get epoch(): number {
    return this.#epoch;
  }

  tamper(name: string, version: string): void {
    this.#tampered.add(versionKey(name, version));
  }

  isTampered(name: string, version: string): boolean {
    return this.#tampered.has(versionKey(name, version));
  }

  wrongIntegrity(name: string, version: string): void {
    this.#wrongIntegrity.add(versionKey(name, version));
    this.#epoch++;
  }

  hasWrongIntegrity(name: string, version: string): boolean {
    return this.#wrongIntegrity.has(versionKey(name, version));
  }

  deliver(delivery: Delivery, kind?: UpstreamKind, name?: string): void {
    this.#rules.push({ kind, name, delivery });
  }

  /** The delivery fault for a request, if one is set; `kind` undefined for requests of neither kind (the change feed). */
  deliveryFor(kind: UpstreamKind | undefined, name: string | undefined): Delivery | undefined {
    return this.#rules.find(
      (r) => (r.kind === undefined || r.kind === kind) && (r.name === undefined || r.name === name),
    )?.delivery;
  }

  hold(kind: UpstreamKind, name: string): Hold {
    let arrive = () => {};
    let release = () => {};
    const arrived = new Promise<void>((resolve) => {
      arrive = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const rule: HoldRule = {
      kind,
      name,
      arrive,
      released,
      release: () => {
        this.#holds = this.#holds.filter((h) => h !== rule);
        release();
      },
    };
    this.#holds.push(rule);
    return { arrived, release: rule.release };
  }

  /** Waits while a hold set for this request is unreleased; the hold is then used up. */
  async waitIfHeld(kind: UpstreamKind, name: string): Promise<void> {
    const rule = this.#holds.find((h) => h.kind === kind && h.name === name);
    if (!rule) return;
    this.#holds = this.#holds.filter((h) => h !== rule);
    this.#waiting.add(rule);
    rule.arrive();
    await rule.released;
    this.#waiting.delete(rule);
  }

  /** Clears every fault and lets every held request go on. */
  clear(): void {
    for (const rule of [...this.#holds, ...this.#waiting]) rule.release();
    this.#holds = [];
    this.#waiting.clear();
    this.#rules = [];
    this.#tampered.clear();
    if (this.#wrongIntegrity.size > 0) this.#epoch++;
    this.#wrongIntegrity.clear();
  }
}
