import type { IcebergField } from '@chunk-archiver/iceberg';
import type { ColumnPlan } from './column-mapping.js';

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } } as const;

/**
 * A column's plan for an Iceberg data file: the same values, with the field id the table gives
 * the column. JSON is an Iceberg string, so it is written as plain UTF-8 (a JSON annotation would
 * make Parquet readers parse the text into objects).
 */
function icebergPlan(plan: ColumnPlan, field: IcebergField): ColumnPlan {
  const json = plan.element.logical_type?.type === 'JSON';
  return {
    ...plan,
    parquetType: json ? 'BYTE_ARRAY STRING' : plan.parquetType,
    element: {
      ...plan.element,
      ...(json ? STRING : {}),
      field_id: field.id,
    },
  };
}

/** Plans in column order, each with its field (fieldsFor returns them in the same order). */
export function icebergPlans(plans: ColumnPlan[], fields: IcebergField[]): ColumnPlan[] {
  return plans.map((plan, i) => icebergPlan(plan, fields[i]!));
}

/** The `iceberg.schema` footer key: the schema the file was written with, as Iceberg writers record it. */
export function icebergSchemaFooter(fields: IcebergField[]): Record<string, string> {
  return { 'iceberg.schema': JSON.stringify({ type: 'struct', 'schema-id': 0, fields }) };
}
