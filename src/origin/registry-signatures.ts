/**
 * Which `signature` entries the origin appends: one for each version it
 * binds (a publish, or an import's `artifact`) in the batch that binds it,
 * and, on start, one for each version its current registry key has not
 * signed yet (a log from before signatures, or a rotated key). Both go
 * through `signatureFor`, so a new version, a backfill and a re-signing
 * after rotation are signed the same way.
 */
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import type { Artifact, Entry, RegistryKeysEntry, SignatureEntry } from "../registry/entries.ts";
import { signedIntegrity } from "../registry/registry-keys.ts";
import type { RegistryState } from "../registry/state.ts";
import { nextKeySet, type RegistrySigner } from "./registry-signer.ts";

/** The ecosystem whose key set the origin keeps: npm's clients are the ones that check. */
const SIGNED_ECOSYSTEM = "npm";

/** The ecosystems whose clients check registry signatures (npm's rules have the kind). */
function signsFor(ecosystem: string): boolean {
  return ECOSYSTEMS.get(ecosystem)?.kinds.has("signature") ?? false;
}

export class SignatureQueue {
  readonly #signer: RegistrySigner;
  #batch: SignatureEntry[] = [];

  constructor(signer: RegistrySigner) {
    this.#signer = signer;
  }

  #signatureFor(
    ecosystem: string,
    name: string,
    version: string,
    artifact: Artifact | undefined,
  ): SignatureEntry | undefined {
    const integrity = signedIntegrity(artifact);
    if (integrity === undefined || !signsFor(ecosystem)) return undefined;
    return this.#signer.signatureEntry(ecosystem, name, version, integrity);
  }

  /** Forgets the signatures of a batch that was not appended. */
  clear(): void {
    this.#batch = [];
  }

  /** Notes an entry accepted into the batch: a version it binds is signed with the batch. */
  add(entry: Entry): void {
    if (entry.kind !== "publish" && entry.kind !== "artifact") return;
    const signature = this.#signatureFor(
      entry.ecosystem,
      entry.name,
      entry.version,
      entry.artifact,
    );
    if (signature) this.#batch.push(signature);
  }

  /**
   * The batch's signature entries, appended after its other entries; led by
   * the key set naming the signer when the log (`current`, at log size
   * `size`) lacks one, so a log gets its first key set with its first signature.
   */
  entries(current: RegistryKeysEntry | undefined, size: number): readonly Entry[] {
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return batch;
    const keys = nextKeySet(current, this.#signer, SIGNED_ECOSYSTEM, size);
    return keys ? [keys, ...batch] : batch;
  }

  /**
   * What a start owes the log: the key set naming the signer (when it does
   * not yet), and a signature on every live version the signer has not signed.
   */
  backlog(
    state: RegistryState,
    size: number,
  ): { keys?: RegistryKeysEntry; signatures: SignatureEntry[] } {
    const keyid = this.#signer.key.keyid;
    const signatures: SignatureEntry[] = [];
    for (const row of state.table(SIGNED_ECOSYSTEM).versionsUnsignedBy(keyid)) {
      if (row.signatures?.some((s) => s.keyid === keyid)) continue;
      const { ecosystem, name, version, artifact } = row.entry;
      const signature = this.#signatureFor(ecosystem, name, version, artifact);
      if (signature) signatures.push(signature);
    }
    if (signatures.length === 0) return { signatures };
    const keys = nextKeySet(state.registryKeys?.entry, this.#signer, SIGNED_ECOSYSTEM, size);
    return { ...(keys ? { keys } : {}), signatures };
  }
}
