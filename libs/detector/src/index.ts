export { afterImageIds, entryImage, needsAfterImage, type ReadImage, type SearchEntry, withAfterImages } from './after-image';
export { type AfterImageReadOptions, type IdAttribute, readAfterImages, readsAnything } from './after-image-reader';
