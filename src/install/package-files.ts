/**
 * npm's rules for a package's files (src/npm/file-index.ts and unpack.ts)
 * as the installer uses them: the same functions, a PackageFilesError
 * turned into an InstallError with the matching code, so every refusal the
 * installer reports is its own.
 */
import * as index from "../npm/file-index.ts";
import { PackageFilesError, type PackageFilesErrorCode } from "../npm/package-files-error.ts";
import * as unpack from "../npm/unpack.ts";
import { InstallError, type InstallErrorCode } from "./install-error.ts";

export {
  EXEC_MODE,
  FILE_MODE,
  type FileIndex,
  type FileMode,
  fileIndexBytes,
  folderConflict,
  formatFileIndex,
  type IndexedFile,
  isSafeRelativePath,
  isValidName,
  isValidVersion,
  MAX_INDEXED_FILES,
  type TarballRef,
} from "../npm/file-index.ts";
export type { ExpectedTarball, UnpackedFile, UnpackedPackage } from "../npm/unpack.ts";

const AS_INSTALL: Record<PackageFilesErrorCode, InstallErrorCode> = {
  "integrity-mismatch": "integrity-mismatch",
  "bad-integrity": "bad-integrity",
  "hostile-entry": "hostile-entry",
  "bad-tarball": "bad-tarball",
  "too-large": "too-large",
  "bad-index": "bad-index",
  "index-mismatch": "bad-index",
};

function asInstallError(err: unknown): unknown {
  if (!(err instanceof PackageFilesError)) return err;
  return new InstallError(AS_INSTALL[err.code], err.message, { cause: err });
}

function mapped<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw asInstallError(err);
  }
}

async function mappedAsync<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw asInstallError(err);
  }
}

export const integrityKey = (integrity: string): string =>
  mapped(() => index.integrityKey(integrity));

export const sha512Integrity = (integrity: string): string =>
  mapped(() => index.sha512Integrity(integrity));

export const parseFileIndex = (text: string): index.FileIndex =>
  mapped(() => index.parseFileIndex(text));

export const checkTarball = (bytes: Uint8Array, expected: unpack.ExpectedTarball) =>
  mapped(() => unpack.checkTarball(bytes, expected));

export const tarballBytes = (source: Uint8Array | AsyncIterable<Uint8Array>): Promise<Buffer> =>
  mappedAsync(() => unpack.tarballBytes(source));

export const unpackTarball = (
  bytes: Buffer,
  expected: unpack.ExpectedTarball,
  options: { readonly inline?: boolean } = {},
): Promise<unpack.UnpackedPackage> =>
  mappedAsync(() => unpack.unpackTarball(bytes, expected, options));

export const fileIndexOfTarball = (
  bytes: Buffer,
  expected: unpack.ExpectedTarball,
): Promise<index.FileIndex> => mappedAsync(() => unpack.fileIndexOfTarball(bytes, expected));
