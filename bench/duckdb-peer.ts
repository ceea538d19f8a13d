// The peer: what a user would run instead of this product. PostgreSQL's CSV COPY arrives on
// stdin (psql's \copy, in the same shell pipeline) and DuckDB writes it as Parquet with the same
// codec and row-group size. Prints one JSON line: DuckDB's own wall time and this process's peak
// RSS. Arguments: out.parquet codec rowGroupSize.
import { duckdbLiteral, duckdbQuery } from '@chunk-archiver/testkit';

const [out, codec, rowGroupSize] = process.argv.slice(2) as [string, string, string];
const started = performance.now();
await duckdbQuery(
  `copy (select * from read_csv('/dev/stdin', header = true)) to ${duckdbLiteral(out)}
   (format parquet, compression ${codec === 'uncompressed' ? 'uncompressed' : codec}, row_group_size ${Number(rowGroupSize)})`,
);
const [written] = await duckdbQuery(
  `select count(*)::bigint::varchar as n from read_parquet(${duckdbLiteral(out)})`,
);
console.log(
  JSON.stringify({
    seconds: (performance.now() - started) / 1000,
    rows: Number(written!.n),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }),
);
