// Splits a list into pages whose encoded sizes fit a byte budget, so that a
// swarm map of any size goes out as datagrams under the UDP limit.
export function paginate<T>(items: readonly T[], sizeOf: (item: T) => number, budgetBytes: number): T[][] {
  const pages: T[][] = [];
  let page: T[] = [];
  let used = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (page.length > 0 && used + size > budgetBytes) {
      pages.push(page);
      page = [];
      used = 0;
    }
    page.push(item);
    used += size;
  }
  pages.push(page);
  return pages;
}
