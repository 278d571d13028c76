/** A sample of several series at one time (ms since the epoch): one point of each line of a chart. */
export interface Sample { at: number, values: Record<string, number> }
