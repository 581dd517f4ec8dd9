/**
 * Least-privilege IAM policies for the two roles a backup setup has: the host that writes backups (and may delete
 * only what its own failed runs leave: with versioning on, such a delete only adds a delete marker, so a compromised
 * backup host cannot destroy a stored version), and the host that prunes old backups.
 */
export interface IamPolicy {
  Version: '2012-10-17';
  Statement: Array<{ Sid: string; Effect: 'Allow'; Action: string[]; Resource: string[]; Condition?: Record<string, unknown> }>;
}

export function writerPolicy(bucket: string, prefix: string): IamPolicy {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DisklessListBackups',
        Effect: 'Allow',
        Action: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
        Resource: [`arn:aws:s3:::${bucket}`],
        ...(prefix ? { Condition: { StringLike: { 's3:prefix': [`${prefix}*`] } } } : {}),
      },
      {
        Sid: 'DisklessWriteBackups',
        Effect: 'Allow',
        Action: [
          's3:PutObject',
          's3:GetObject',
          's3:AbortMultipartUpload',
          's3:ListMultipartUploadParts',
          // Failed runs remove the objects they wrote themselves (checked by ETag first).
          's3:DeleteObject',
        ],
        Resource: [`arn:aws:s3:::${bucket}/${prefix}*`],
      },
    ],
  };
}

export function prunerPolicy(bucket: string, prefix: string): IamPolicy {
  const writer = writerPolicy(bucket, prefix);
  return {
    Version: '2012-10-17',
    Statement: [
      writer.Statement[0]!,
      {
        Sid: 'DisklessPruneBackups',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:AbortMultipartUpload'],
        Resource: [`arn:aws:s3:::${bucket}/${prefix}*`],
      },
      {
        Sid: 'DisklessListVersions',
        Effect: 'Allow',
        Action: ['s3:ListBucketVersions'],
        Resource: [`arn:aws:s3:::${bucket}`],
      },
    ],
  };
}
