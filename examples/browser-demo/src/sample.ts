/** The bundled sample: a few users, each with a state `[seqLen * featureDim]` and items already seen. */
export interface SampleUser {
  id: number;
  label: string;
  /** The model's input for this user, row-major `[seqLen, featureDim]`, zero rows = no history yet. */
  state: number[];
  /** Item ids never to recommend (already seen). */
  exclude: number[];
}

export interface SampleFile {
  users: SampleUser[];
}
