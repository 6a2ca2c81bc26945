/**
 * Where a source key's products and report go. Appending `.json` keeps the mapping one-to-one
 * (`a.xml` and `a.XML` never collide) and matches the predecessor (`test-file.xml` → `test-file.xml.json`).
 * Reports live under their own prefix (default `_reports/`), outside the products' namespace:
 * consumers of the target bucket ignore that prefix.
 */
export function outputKeyFor(sourceKey: string): string {
  return `${sourceKey}.json`;
}

export function reportKeyFor(reportPrefix: string, sourceKey: string): string {
  return `${reportPrefix}${sourceKey}.report.json`;
}
