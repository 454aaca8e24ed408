// The runs `twnn bench stability` is made from (issue 24, the experiment): the
// Fashion-MNIST TWNN ResNet at Table II's settings (Adam, batch 64) with no
// gradient clipping, in three variants (contractive wormholes, fixed-point
// correction, as it is now), each from seeds 0-2 at lr 1e-3 and 2e-3, for the
// graph files' FASHION_EPOCHS epochs, with the spectral radius logged per
// epoch (`--spectral`). A run's folder is
// exported/stability/<variant>-lr<lr>-s<seed>.
import { TwnnError } from '../../src/common/errors.js';

/** One way of training the TWNN ResNet that the experiment compares. */
export interface StabilityVariant {
  /** Folder prefix and `--only` name: `noclip`. */
  id: string;
  /** Row label. */
  label: string;
  /** The graph file it is trained from. */
  graph: string;
}

/** One training run of the experiment. */
export interface StabilityRun {
  variant: StabilityVariant;
  /** The learning rate, passed as `--lr`. */
  lr: number;
  seed: number;
  /** Its output folder. */
  dir: string;
  /** The exact command that trains it (resumed with `--resume` added). */
  command: string;
}

export const STABILITY_VARIANTS: readonly StabilityVariant[] = [
  { id: 'contractive', label: 'Contractive wormholes', graph: 'graphs/fashion-resnet-contractive.ts' },
  { id: 'fpcorr', label: 'Fixed-point correction', graph: 'graphs/fashion-resnet-fpcorr.ts' },
  { id: 'noclip', label: 'As now, no clipping', graph: 'graphs/fashion-resnet-noclip.ts' },
];

/** Table II's lr, and twice it (where the TWNN ResNet stopped training). */
export const STABILITY_LRS: readonly number[] = [1e-3, 2e-3];
export const STABILITY_SEEDS: readonly number[] = [0, 1, 2];

/** Where the experiment's runs live. */
export const STABILITY_DIR = 'exported/stability';

/** Steps between the trainer's checkpoints: an interrupted run loses at most these when resumed. */
export const STABILITY_CHECKPOINT_EVERY = 100;

/**
 * An lr as a folder name and flag value: `1e-3`, `2e-3`, `5e-4`.
 *
 * @example lrText(0.002) // '2e-3'
 */
export function lrText(lr: number): string {
  const [mantissa, exponent] = lr.toExponential().split('e');
  return `${mantissa}e${Number(exponent)}`;
}

/**
 * Every run of the experiment under `root`, variant by variant, lr by lr and
 * seed by seed.
 *
 * @example stabilityRuns()[0].command // 'twnn train graphs/fashion-resnet-contractive.ts --seed 0 --lr 1e-3 --spectral --checkpoint-every 100 -o exported/stability/contractive-lr1e-3-s0'
 */
export function stabilityRuns(
  variants: readonly StabilityVariant[] = STABILITY_VARIANTS,
  lrs: readonly number[] = STABILITY_LRS,
  seeds: readonly number[] = STABILITY_SEEDS,
  root = STABILITY_DIR,
): StabilityRun[] {
  return variants.flatMap((variant) =>
    lrs.flatMap((lr) =>
      seeds.map((seed) => {
        const dir = `${root}/${variant.id}-lr${lrText(lr)}-s${seed}`;
        const command = `twnn train ${variant.graph} --seed ${seed} --lr ${lrText(lr)} --spectral --checkpoint-every ${STABILITY_CHECKPOINT_EVERY} -o ${dir}`;
        return { variant, lr, seed, dir, command };
      }),
    ),
  );
}

/**
 * The runs `only` names: variant ids (`fpcorr`) and/or lrs (`2e-3`, `0.002`),
 * comma-separated. Names of one kind widen the choice, the two kinds narrow
 * each other: `noclip,fpcorr` is both variants at every lr, `noclip,2e-3` is
 * noclip at 2e-3. An unknown name is an error listing the known ones.
 *
 * @example selectRuns(stabilityRuns(), 'noclip,2e-3').length // 3
 */
export function selectRuns(runs: readonly StabilityRun[], only: string): StabilityRun[] {
  const names = only.split(',').map((s) => s.trim()).filter(Boolean);
  const variants = [...new Set(runs.map((r) => r.variant.id))];
  const lrs = [...new Set(runs.map((r) => r.lr))];
  if (names.length === 0) throw new TwnnError(`--only: expected a variant (${variants.join(', ')}) or an lr (${lrs.map(lrText).join(', ')}), got '${only}'`);
  const pickedVariants: string[] = [];
  const pickedLrs: number[] = [];
  for (const name of names) {
    if (variants.includes(name)) pickedVariants.push(name);
    else if (lrs.includes(Number(name))) pickedLrs.push(Number(name));
    else throw new TwnnError(`--only: '${name}' is neither a variant (${variants.join(', ')}) nor an lr of the experiment (${lrs.map(lrText).join(', ')})`);
  }
  return runs.filter((r) => (pickedVariants.length === 0 || pickedVariants.includes(r.variant.id)) && (pickedLrs.length === 0 || pickedLrs.includes(r.lr)));
}
