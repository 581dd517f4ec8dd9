// Creates BUCKET on ENDPOINT with the RGW test keys (run inside the test's network namespace). Usage: node make-bucket.mjs ENDPOINT BUCKET
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const [endpoint, bucket] = process.argv.slice(2);
const client = new S3Client({
  endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 5,
  credentials: { accessKeyId: 'testaccesskey', secretAccessKey: 'testsecretkey' },
});
await client.send(new CreateBucketCommand({ Bucket: bucket }));
console.log(`bucket ${bucket} created on ${endpoint}`);
client.destroy();
