/** An upstream npm registry the origin imports from, and the bounds on every exchange with it. */

export interface Uplink {
  /** How configuration, logs and errors name it. */
  readonly name: string;
  /** The registry's base URL, ending in a slash: packuments are `<url><escaped name>`. */
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>` to the uplink's own origin, never elsewhere. */
  readonly token?: string;
  /** Milliseconds without a byte (waiting for headers or mid-body) before the exchange is dropped. */
  readonly timeoutMs: number;
  /** Milliseconds for a whole exchange, however steadily bytes arrive. */
  readonly deadlineMs: number;
  /** The most bytes of a packument, on the wire and decoded. */
  readonly maxPackumentBytes: number;
  /** The most bytes of a tarball, on the wire and decoded. */
  readonly maxTarballBytes: number;
}

const MIB = 1024 * 1024;

/**
 * - idle 30 s: a healthy registry answers within a second or two and
 *   rarely pauses mid-body; 30 s tolerates a slow link or a cold CDN edge
 *   and still frees a stuck exchange long before the client gives up.
 * - deadline 5 min: npm's default fetch timeout (`fetch-timeout`), after
 *   which the client that asked has gone; it also ends a drip-feed of one
 *   byte per idle period. A 512 MiB tarball needs about 1.8 MB/s to make it.
 * - packument 100 MiB: full packuments of the most-published packages on
 *   the public npm registry run to tens of MiB; the whole document is held
 *   in memory to parse it, so the cap also bounds memory per import.
 * - tarball 512 MiB: streamed to disk, never held in memory; it leaves
 *   headroom over the largest packages installed in practice while still
 *   stopping an endless body.
 */
export const UPLINK_DEFAULTS = {
  timeoutMs: 30_000,
  deadlineMs: 5 * 60_000,
  maxPackumentBytes: 100 * MIB,
  maxTarballBytes: 512 * MIB,
} as const satisfies Partial<Uplink>;
