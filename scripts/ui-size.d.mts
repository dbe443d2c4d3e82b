/** Per page of the built UI: each file it loads before drawing, and their sum, gzipped. */
export function pageSizes(
  dir?: string,
): Record<string, { files: Record<string, number>; gzipped: number }>;
