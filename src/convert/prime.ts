/**
 * Primes V8's type feedback for the tokenizer before the first real input (see primeParser).
 */
import { CatalogueParser } from './parser.js';
import { ReportBuilder } from './report.js';

/**
 * A small catalogue that walks every tokenizer path: references, CDATA, comments, PIs, both quote
 * styles, CR/LF variants, whitespace in end tags, unknown elements, a rejected and a warned item.
 */
export const PRIMER = Buffer.from(
  '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\r\n<!-- a - comment -->\n<?pi some ? data??>\n' +
    `<nsx:items xmlns:nsx="urn:x" a='1'>\n <nsx:item id=" 1 &amp; &#65;&#x42;" x = "y&lt;" >\r\n` +
    '  <nsx:category>A &lt; B <![CDATA[c]]d]]]> &quot;&#x9;</nsx:category>\r' +
    '  <nsx:description>li\tne\r\nline\rline "q" \\ é 中</nsx:description>\n' +
    `  <nsx:images><nsx:image type="3" url="u\n /v&#32;"/><nsx:image type='1' url='w"'></nsx:image></nsx:images>\n` +
    '  <nsx:prices><nsx:price><nsx:currency> EUR </nsx:currency><nsx:value>1.50</nsx:value></nsx:price>' +
    '<nsx:price><nsx:value>2</nsx:value><nsx:currency>DKK</nsx:currency></nsx:price></nsx:prices>\n' +
    `  <extra note='&apos;'>text &gt; <b/><![CDATA[x]]></extra >\n </nsx:item >\n` +
    ' <nsx:item><nsx:images><nsx:image type="0" url=""/></nsx:images></nsx:item>\n' +
    ' <nsx:item id="2"/>\n</nsx:items>\n<!-- end -->\n',
);

let primed = false;

/**
 * Runs the primer once per process, whole and byte by byte, before the first real input. V8 optimises
 * the tokenizer from the type feedback it has seen; paths first taken after optimisation (the first
 * `&amp;`, comment or chunk-split name) otherwise throw the optimised code away and recompile it, which
 * on a 100 MB file cost a noticeable part of the run. The primer takes a few milliseconds, once.
 */
export function primeParser(): void {
  if (primed) return;
  primed = true;
  try {
    for (const size of [PRIMER.length, 1, 7]) {
      const parser = new CatalogueParser(
        { strict: false, maxImageType: 100, maxItemBytes: 1 << 20, flushBytes: 1 },
        new ReportBuilder(null, 10),
        () => {},
      );
      for (let i = 0; i < PRIMER.length; i += size) parser.write(PRIMER.subarray(i, i + size));
      parser.end();
    }
  } catch {
    // Only an optimisation: a primer that no longer parses must never stop a real conversion.
  }
}
