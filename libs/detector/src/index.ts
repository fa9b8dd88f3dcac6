export { afterImageDns, afterImageIds, entryImage, lastKnownImage, needsAfterImage, type ReadImage, type SearchEntry, withAfterImages, withLastKnownImages } from './after-image';
export { type AfterImageReadOptions, type IdAttribute, readAfterImages, readsAnything } from './after-image-reader';
