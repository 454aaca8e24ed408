// The runs `twnn bench study` is made from (issue 14): the TWNN ResNet, the
// same with block skipping, the plain ResNet of the same blocks and the plain
// ResNet of twice the blocks, each trained on Fashion-MNIST for the same
// epochs (graphs/fashion-resnet.ts: FASHION_EPOCHS) from seeds 0, 1 and 2. A
// run's folder is exported/study/<model>-s<seed>; only model.onnx,
// manifest.json and metrics.jsonl of each are committed. A longer-training
// check beside them: every model from seed 0 for LONG_EPOCHS epochs, under
// exported/study/long/ (one seed: it shows whether the ranking moves with
// training, not a judged claim).

/** One architecture of the study. */
export interface StudyModel {
  /** Graph file name without `.ts`, also the folder prefix: `fashion-resnet`. */
  id: string;
  /** Row label. */
  label: string;
  /** `twnn`: with fixed-point regions; `baseline`: a plain network. */
  role: 'twnn' | 'baseline';
  /** The paper's name for it (Table III). */
  paperName: string;
  /** The graph file it is trained from. */
  graph: string;
  /** Its part in the comparison: the claims are judged between these. */
  kind: StudyKind;
}

/** The four architectures the claims compare. */
export type StudyKind = 'twnn' | 'twnn-skip' | 'same-blocks' | 'deep';

/** One training run of the study. */
export interface StudyRun {
  model: StudyModel;
  seed: number;
  /** Its output folder. */
  dir: string;
  /** The exact command that trains it. */
  command: string;
  /** Epochs it trains for where the command overrides the graph file's (`--epochs`). */
  epochs?: number;
}

export const STUDY_MODELS: readonly StudyModel[] = [
  { id: 'fashion-resnet', label: 'TWNN ResNet', role: 'twnn', paperName: 'TWRNN', graph: 'graphs/fashion-resnet.ts', kind: 'twnn' },
  { id: 'fashion-resnet-skip', label: 'TWNN ResNet, block skipping', role: 'twnn', paperName: 'TWRNN skipping B4', graph: 'graphs/fashion-resnet-skip.ts', kind: 'twnn-skip' },
  { id: 'fashion-resnet-gn-plain', label: 'Plain ResNet, same blocks', role: 'baseline', paperName: 'ResNet-36', graph: 'graphs/fashion-resnet-gn-plain.ts', kind: 'same-blocks' },
  { id: 'fashion-resnet-deep-plain', label: 'Plain ResNet, twice the blocks', role: 'baseline', paperName: 'ResNet-50', graph: 'graphs/fashion-resnet-deep-plain.ts', kind: 'deep' },
];

export const STUDY_SEEDS: readonly number[] = [0, 1, 2];

/** Where the study's runs live. */
export const STUDY_DIR = 'exported/study';

/** The longer-training check: its epochs (4x the study's 2), its one seed, its folder. */
export const LONG_EPOCHS = 8;
export const LONG_SEEDS: readonly number[] = [0];
export const LONG_STUDY_DIR = `${STUDY_DIR}/long`;

/**
 * Every run of the study, model by model and seed by seed, under `root`;
 * with `epochs`, each trained that many epochs instead of its graph file's.
 *
 * @example studyRuns()[0] // { model: STUDY_MODELS[0], seed: 0, dir: 'exported/study/fashion-resnet-s0', command: 'twnn train graphs/fashion-resnet.ts --seed 0 -o exported/study/fashion-resnet-s0' }
 */
export function studyRuns(models: readonly StudyModel[] = STUDY_MODELS, seeds: readonly number[] = STUDY_SEEDS, root = STUDY_DIR, epochs?: number): StudyRun[] {
  return models.flatMap((model) =>
    seeds.map((seed) => {
      const dir = `${root}/${model.id}-s${seed}`;
      const flag = epochs === undefined ? '' : ` --epochs ${epochs}`;
      return { model, seed, dir, command: `twnn train ${model.graph} --seed ${seed}${flag} -o ${dir}`, ...(epochs === undefined ? {} : { epochs }) };
    }),
  );
}

/**
 * The longer-training check's runs: every study model from seed 0 for
 * LONG_EPOCHS epochs, under exported/study/long/.
 *
 * @example longStudyRuns()[0].command // 'twnn train graphs/fashion-resnet.ts --seed 0 --epochs 8 -o exported/study/long/fashion-resnet-s0'
 */
export function longStudyRuns(models: readonly StudyModel[] = STUDY_MODELS): StudyRun[] {
  return studyRuns(models, LONG_SEEDS, LONG_STUDY_DIR, LONG_EPOCHS);
}
