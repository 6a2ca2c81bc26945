/** A small valid catalogue of `items` products whose ids start at `firstId` (known output: `items` products). */
export function smallCatalogue(firstId: number, items = 3): string {
  const body = Array.from({ length: items }, (_, n) => {
    const id = firstId + n;
    return (
      ` <nsx:item id="${id}">\n  <nsx:category>Jeans</nsx:category>\n` +
      `  <nsx:description>Bootleg Front Washed ${id}</nsx:description>\n` +
      `  <nsx:images><nsx:image type="1" url="https://sample.com/img/${id}_1.jpg"/></nsx:images>\n` +
      '  <nsx:prices><nsx:price><nsx:currency>EUR</nsx:currency><nsx:value>49.95</nsx:value></nsx:price></nsx:prices>\n' +
      ' </nsx:item>\n'
    );
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<nsx:items>\n${body.join('')}</nsx:items>\n`;
}
