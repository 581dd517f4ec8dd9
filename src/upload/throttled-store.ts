import type { RateLimiter } from '../util/rate-limiter.js';
import type { ObjectStore, PutRequest, RequestOptions, UploadPartRequest } from './object-store.js';

/**
 * The ObjectStore `inner` with its uploads (PutObject, UploadPart, and every retry of them) sharing one byte-rate
 * limit: `--bwlimit` holds for all objects of a process together, e.g. every file of a `run`. A request waits for its
 * bytes before it is sent, so the link sees each part at full speed and then a pause: the average, not the peak, is
 * limited. Every other operation goes to `inner` unchanged (a proxy, so operations added to ObjectStore later pass too).
 */
export function throttledStore(inner: ObjectStore, limiter: RateLimiter): ObjectStore {
  const putObject = async (req: PutRequest, opts: RequestOptions = {}) => {
    await limiter.take(req.contentLength, opts.signal);
    return inner.putObject(req, opts);
  };
  const uploadPart = async (req: UploadPartRequest, opts: RequestOptions = {}) => {
    await limiter.take(req.contentLength, opts.signal);
    return inner.uploadPart(req, opts);
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'putObject') return putObject;
      if (prop === 'uploadPart') return uploadPart;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
