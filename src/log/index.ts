/**
 * The transparency-log core: RFC 6962 hashing and proofs, C2SP tlog-tiles,
 * signed-note, tlog-checkpoint and tlog-cosignature, and the appender that
 * writes a static tiled log. Knows nothing of packages.
 */
export { Appender, type AppenderOptions, type AppendResult, type LogStorage } from "./appender.ts";
export { decodeBase64Strict, encodeBase64 } from "./base64.ts";
export {
  type Checkpoint,
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  readUnverifiedCheckpoint,
  type SignedCheckpoint,
} from "./checkpoint.ts";
export {
  COSIGNATURE_TYPE,
  type CosignatureVerifier,
  Cosigner,
  cosignedMessage,
  parseCosignatureVerifierKey,
} from "./cosignature.ts";
export { isLogError, LogError, type LogErrorCode } from "./errors.ts";
export { FsLogStorage, type FsStorageOptions, releaseLock, takeLock } from "./fs-storage.ts";
export {
  EMPTY_ROOT,
  equalBytes,
  HASH_SIZE,
  type Hash,
  leafHash,
  nodeHash,
  sha256,
} from "./hash.ts";
export {
  consistencyProofNodes,
  type HashReader,
  inclusionProofNodes,
  MemoryHashReader,
  type NodeId,
  proveConsistency,
  proveInclusion,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";
export {
  addSignatures,
  ed25519PrivateKey,
  formatKey,
  generateKey,
  type KeyedVerifier,
  keyId,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
  openNote,
  parseKeyParts,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  rawPublicKey,
  rawSeed,
  signNote,
} from "./note.ts";
export { DirectorySource, HttpSource, openSource, withFullTileFallback } from "./sources.ts";
export { type LogSource, TileHashReader } from "./tile-reader.ts";
export {
  bundlePath,
  edgeTiles,
  encodeBundle,
  MAX_BUNDLE_BYTES,
  MAX_ENTRY_SIZE,
  parseBundle,
  parseTilePath,
  TILE_WIDTH,
  type Tile,
  tilePath,
  tilesOfTree,
} from "./tiles.ts";
export { type LogFile, TreeBuilder } from "./tree-builder.ts";
export { checkTree, type TreeCheckResult, type TreeDamage } from "./tree-check.ts";
export {
  MAX_CHECKPOINT_BYTES,
  readCheckpoint,
  type VerifyLogResult,
  verifyLog,
} from "./verify-log.ts";
export {
  type AddCheckpointRequest,
  addCheckpoint,
  type CosignedState,
  type EvidenceReason,
  formatAddCheckpointRequest,
  MAX_PROOF_LINES,
  MemoryWitnessStore,
  parseAddCheckpointRequest,
  type WitnessOptions,
  type WitnessResponse,
  type WitnessStore,
} from "./witness.ts";
