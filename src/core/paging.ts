// Swarm maps go out in pages, so that a map of any size fits in datagrams
// under the UDP limit. A page holds a fixed number of entries: as many as fit
// when every entry is as large as the protocol lets it be. Page k is then a
// slice of the list, found without encoding anything, whatever the swarm's size.

/** How many entries of at most `maxEntryBytes` fit in `budgetBytes` (at least one). */
export function entriesPerPage(maxEntryBytes: number, budgetBytes: number): number {
  return Math.max(1, Math.floor(budgetBytes / maxEntryBytes));
}

/** Pages needed for `total` entries (an empty list is one empty page). */
export function pageCountOf(total: number, perPage: number): number {
  return Math.max(1, Math.ceil(total / perPage));
}
