"""The fixed-point solvers of the torch twin (python/twnn_torch.py): plain iteration, Anderson acceleration and
limited-memory Broyden, step for step as twnn's settling Loop takes them (src/lower/solvers/), so the twin's iterates,
per-sample sweeps and adjoint steps are twnn's.

What a solver is to the settling loop (src/lower/solvers/solver.ts). The loop owns the residual, who settles, freezing
settled samples, active rows and the best iterate; a solver owns only how the next iterate is made from the iterate x
and the sweep's output F(x), and the per-sample memory it carries to do so. Every value it carries is [B, ...], so the
loop gathers and writes it back row by row like the states (index_select / index_copy_ in the twin's active mode) and
each sample's result is its batch-of-1 result. `first` is the loop's first step (its memory still empty).

Anderson and Broyden work on each sample's states flattened to one row x [B, n], with the residual g = F(x) - x
(src/lower/solvers/rows.ts); a sample that settles on a step takes F(x) itself, not the mix.

Anderson (src/lower/solvers/anderson.ts), type II, m past steps, mixing beta, regularisation lambda:
  dX, dG: the last m differences x_{i+1} - x_i, g_{i+1} - g_i (the oldest column out, the newest in; not recorded on
  the first step),  gamma = argmin ||g_k - dG gamma||^2  <=>  (dG^T dG + lambda mean(diag) I) gamma = dG^T g_k,
  x_{k+1} = x_k + beta g_k - (dX + beta dG) gamma.
The m x m normal equations are solved as twnn solves them, by Gauss-Jordan elimination without pivoting in the same
order, an all-zero history getting the identity (gamma = 0): the least-squares solve is where float32 rounding could
part the two, so the twin does not swap in torch.linalg.

Broyden (src/lower/solvers/broyden.ts), "good" Broyden in inverse form, H = -I + sum_i u_i v_i^T over the last m pairs:
  s = x - x_prev, y = g - g_prev, v = H^T s, u = (s - H y) / (v^T y)   (skipped on the first step, or where v^T y = 0),
  x_{k+1} = x - H g = x + g - sum_i u_i (v_i . g), H taking the newest pair first.
"""
import torch

# The solver kinds a region's `solver` / `backwardSolver` may name (src/twnn/solvers.ts's SOLVER_KINDS).
KINDS = ('plain', 'anderson', 'broyden')

# Each kind's settings, as the iterate record writes them after its name (src/contract/iterator-record.ts's
# solverFields): unprefixed for the forward solver, `backward<Setting>` for the backward one.
SETTINGS = {'plain': (), 'anderson': ('history', 'mixing', 'regularization'), 'broyden': ('history',)}


def setting_key(prefix, name):
    """`history` for the forward solver, `backwardHistory` for the backward one."""
    return f'{prefix}{name[0].upper()}{name[1:]}' if prefix else name


# Every record key a solver's settings may take: the twin's refusal check knows them.
SETTING_KEYS = frozenset(setting_key(p, n) for p in ('', 'backward') for names in SETTINGS.values() for n in names)


def solver_of(config, prefix, where):
    """The solver a region's record names under `solver` (prefix '') or `backwardSolver` (prefix 'backward'), with its
    settings; a kind the twin lacks, or a setting the record lacks, is refused naming the region and the key.

    Example: solver_of({'solver': 'anderson', 'history': 5, 'mixing': 1, 'regularization': 1e-6}, '', "region 'region1'")
    """
    key = setting_key(prefix, 'solver')
    kind = config.get(key, 'plain')
    if kind not in KINDS:
        raise ValueError(f"{where}: {key} '{kind}' has no torch reference (it has {', '.join(KINDS)})")
    missing = [setting_key(prefix, n) for n in SETTINGS[kind] if setting_key(prefix, n) not in config]
    if missing:
        raise ValueError(f"{where}: {key} '{kind}' without {', '.join(missing)} in its iterate record")
    settings = {n: config[setting_key(prefix, n)] for n in SETTINGS[kind]}
    return {'plain': Plain, 'anderson': Anderson, 'broyden': Broyden}[kind](**settings)


def take(memory, idx):
    """A solver's memory on rows `idx` (None: all of them)."""
    return memory if idx is None else [t.index_select(0, idx) for t in memory]


def put(memory, idx, rows):
    """Write rows' memory back into the whole batch's (in place; idx None: the rows are the whole batch)."""
    if idx is None:
        return rows
    for t, r in zip(memory, rows):
        t.index_copy_(0, idx, r)
    return memory


class Plain:
    """x <- F(x): carries nothing."""

    kind = 'plain'

    def start(self, states):
        return []

    def step(self, memory, s_old, s_new, settles, first):
        return list(s_new), memory


class RowMixer:
    """A solver whose step mixes past steps on each sample's states flattened to a row: `mix` maps x and g = F(x) - x
    ([B, n]) to the next row and the memory after it; a sample that settles takes F(x). Both mixers carry two
    histories [B, m, n] (Anderson's dX, dG; Broyden's U, V), empty at the start, and the last x and g."""

    def start(self, states):
        x = flat_rows(states)
        zeros = torch.zeros(x.shape[0], self.history, x.shape[1], dtype=x.dtype)
        return [zeros, zeros, torch.zeros_like(x), torch.zeros_like(x)]

    def step(self, memory, s_old, s_new, settles, first):
        x = flat_rows(s_old)
        if len(s_old) == 1:
            # One state's row is a view of it, and the twin's active mode writes the states in place: the memory's
            # last x must be a copy.
            x = x.clone()
        nxt, memory = self.mix(memory, x, flat_rows(s_new) - x, first)
        mixed = split_rows(nxt, s_old)
        return [torch.where(settles.view(-1, *([1] * (f.dim() - 1))), f, m) for f, m in zip(s_new, mixed)], memory


def flat_rows(tensors):
    """Each sample's state tensors as one row: [B, n]."""
    flat = [t.flatten(1) for t in tensors]
    return flat[0] if len(flat) == 1 else torch.cat(flat, 1)


def split_rows(rows, like):
    """Rows [B, n] back into tensors shaped like `like` (each [B, ...])."""
    out, at = [], 0
    for t in like:
        size = t[0].numel()
        out.append(rows[:, at:at + size].reshape(t.shape))
        at += size
    return out


def shifted(hist, row):
    """The oldest row of hist [B, m, n] out, `row` [B, n] in as the newest."""
    return torch.cat([hist[:, 1:], row.unsqueeze(1)], 1)


class Anderson(RowMixer):
    kind = 'anderson'

    def __init__(self, history, mixing, regularization):
        self.history, self.mixing, self.regularization = history, mixing, regularization

    def mix(self, memory, x, gk, first):
        d_x, d_g, x_prev, g_prev = memory
        recorded = 0.0 if first else 1.0
        d_x = shifted(d_x, (x - x_prev) * recorded)
        d_g = shifted(d_g, (gk - g_prev) * recorded)
        normal = torch.matmul(d_g, d_g.transpose(1, 2))
        rhs = torch.matmul(d_g, gk.unsqueeze(2))
        gamma = solve_regularized(normal, rhs, self.regularization)
        beta = self.mixing
        step = gk if beta == 1 else gk * beta
        directions = d_x + d_g if beta == 1 else d_x + d_g * beta
        correction = torch.matmul(gamma.transpose(1, 2), directions).squeeze(1)
        return (x + step) - correction, [d_x, d_g, x, gk]


def solve_regularized(a, r, lam):
    """(A + lam mean(diag A) I) gamma = r per sample, A [B, m, m], r [B, m, 1]: Gauss-Jordan without pivoting, in
    twnn's order (solveRegularized); an all-zero A gets the identity.

    Example: solve_regularized(torch.eye(2).expand(3, 2, 2), torch.ones(3, 2, 1), 1e-6)  # [3, 2, 1], about 1
    """
    m = a.shape[1]
    eye = torch.eye(m, dtype=a.dtype).unsqueeze(0)
    mean_diag = (a * eye).sum((1, 2), keepdim=True) / m
    shift = torch.where(mean_diag > 0, mean_diag * lam, torch.ones_like(mean_diag))
    aug = torch.cat([a + eye * shift, r], 2)
    for k in range(m):
        row = aug[:, k:k + 1]
        pivot = row[:, :, k:k + 1]
        column = aug[:, :, k:k + 1]
        others = torch.ones(1, m, 1, dtype=a.dtype)
        others[0, k, 0] = 0
        aug = aug - ((column / pivot) * others) * row
    diagonal = (aug[:, :, :m] * eye).sum(2).unsqueeze(2)
    return aug[:, :, m:m + 1] / diagonal


class Broyden(RowMixer):
    kind = 'broyden'

    def __init__(self, history):
        self.history = history

    def mix(self, memory, x, gk, first):
        u0, v0, x_prev, g_prev = memory
        s = x - x_prev
        y = gk - g_prev
        v = low_rank(v0, u0, s) - s
        hy = low_rank(u0, v0, y) - y
        vy = (v * y).sum(1, keepdim=True)
        updates = torch.zeros_like(vy, dtype=torch.bool) if first else vy.abs() > 0
        u = torch.where(updates, (s - hy) / torch.where(updates, vy, torch.ones_like(vy)), torch.zeros_like(s))
        keep = updates.unsqueeze(2)
        u_new = torch.where(keep, shifted(u0, u), u0)
        v_new = torch.where(keep, shifted(v0, v), v0)
        return (x + gk) - low_rank(u_new, v_new, gk), [u_new, v_new, x, gk]


def low_rank(a, b, z):
    """sum_i a_i (b_i . z) per sample: a, b [B, m, n], z [B, n] -> [B, n]."""
    coefficients = torch.matmul(b, z.unsqueeze(2))
    return torch.matmul(coefficients.transpose(1, 2), a).squeeze(1)
