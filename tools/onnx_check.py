#!/usr/bin/python3
"""Check .onnx files with the reference implementation twnn did not write.

    /usr/bin/python3 tools/onnx_check.py FILE.onnx [FILE.onnx ...]

For each file: onnx.checker.check_model(full_check=True), then
onnx.shape_inference.infer_shapes(check_type=True, strict_mode=True), which
also fails where a recorded value_info contradicts what an op produces.
Prints one JSON line per file, {"file", "ok", "error"}, and exits 1 if any
file failed. Needs Debian's python3-onnx (1.12): run it with /usr/bin/python3.
"""
import json
import sys

import onnx
import onnx.checker
import onnx.shape_inference


def check(path: str) -> dict:
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as err:  # every failure is a result to report, not a crash
        message = ' '.join(str(err).split()) or type(err).__name__
        return {'file': path, 'ok': False, 'error': f'{type(err).__name__}: {message}'}
    return {'file': path, 'ok': True, 'error': None}


def main(paths: list) -> int:
    if not paths:
        print('usage: onnx_check.py FILE.onnx [FILE.onnx ...]', file=sys.stderr)
        return 2
    results = [check(p) for p in paths]
    for r in results:
        print(json.dumps(r), flush=True)
    return 0 if all(r['ok'] for r in results) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
