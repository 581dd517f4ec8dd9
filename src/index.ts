/**
 * diskless as a library: the same operations as the CLI, without argv, exit codes or signal
 * handlers. Importing this module has no side effects.
 */
export { put, DEFAULT_CONCURRENCY, type PutOptions, type PutResult } from './ops/put.js';
export { get, type GetOptions, type GetResult } from './ops/get.js';
export { gc, type GcOptions, type GcResult } from './ops/gc.js';
export { run, type RunOptions } from './ops/run.js';
export { serve, type ServeOptions } from './ops/serve.js';
export { snapshot, type SnapshotOptions, type SnapshotResult } from './ops/snapshot.js';
export { ls, type LsOptions, type BackupListing } from './ops/ls.js';
export { restore, type RestoreOptions, type RestoreResult } from './ops/restore.js';
export { prune, type PruneOptions, type PruneResult } from './ops/prune.js';
export { applyRetention, type RetentionPolicy } from './prune/retention.js';
export { verify, type VerifyOptions, type VerifyResult, type BackupVerification } from './ops/verify.js';
export { MANIFEST_FORMAT, type Manifest, type ManifestFile, type BackupKind, type WriterEnd } from './manifest/manifest.js';
export { parseManifest } from './manifest/read-manifest.js';
export { openSession, type Session, type SessionOptions } from './ops/session.js';

export { uploadStream, type StreamUploadOptions, type StreamUploadResult } from './upload/stream-uploader.js';
export { downloadObject, type DownloadResult, type ReadContext } from './download/object-reader.js';
export { planParts, PartSequence, DEFAULT_PART_SIZE, DEFAULT_MEMORY_BUDGET, type PartPlan, type PartPlanOptions } from './upload/part-planner.js';
export { MemoryBudget } from './upload/memory-budget.js';
export { TransferMeter, type TransferSample } from './upload/transfer-meter.js';
export type { ObjectStore, ObjectRef, WriteSettings, ListedObject } from './upload/object-store.js';
export type { ObjectSummary } from './upload/multipart-object.js';
export type { UploadContext } from './upload/upload-context.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './upload/retry.js';
export { S3ObjectStore } from './s3/s3-object-store.js';
export { StoreError, kindOfCode, type StoreErrorKind } from './store-error.js';
export { redactArgv, redactText } from './util/redact.js';
export { createS3Client, type S3ConnectionOptions } from './s3/s3-client.js';
export { parseS3Url, formatS3Url, type S3Location } from './s3/s3-url.js';
export { crc32c, Crc32c, crc32cImplementation } from './checksum/crc32c.js';
export { Limiter } from './util/limiter.js';
// Client-side encryption (age-encryption.org/v1): the Transforms the commands use, for other readers and writers.
export {
  AgeEncryptor,
  AgeDecryptor,
  decryptTransform,
  DecryptError,
  AGE_FORMAT,
  type EncryptionRecord,
  type DecryptOptions,
} from './crypto/age-stream.js';
export { encryptTransform } from './crypto/encrypt-source.js';
export { loadRecipients, loadIdentities, checkRecipients, identitiesFor, type Identity } from './crypto/recipients.js';
export { silentLogger, streamLogger, type Logger } from './util/log.js';
export {
  DisklessError,
  UsageError,
  PreflightError,
  UploadError,
  VerificationError,
  ObjectTooLargeError,
  ProducerError,
  InterruptedError,
  BackupVerifyError,
  type ErrorCategory,
} from './errors.js';
