export { inTransaction, LinkStore, type BulkLoader, type LinkRecord, type LinkStoreOptions, type RetiredLink, type StoredLink } from './store';
export { LinksView, LinksViewBehindError, linksViewProbes, type LinksViewOptions, type LinksViewState, type LinksViewStatus } from './view';
export { LinkRegistry, type LinkRegistryOptions } from './registry';
