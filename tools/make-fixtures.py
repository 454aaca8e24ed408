#!/usr/bin/python3
"""Write the small FOREIGN .onnx models twnn's ONNX reader is tested on.

Run with Debian's interpreter (it has python3-onnx 1.12 and python3-torch 1.13):

    /usr/bin/python3 tools/make-fixtures.py [OUT_DIR]   # default: test/fixtures

Each file is made by something other than twnn, so the reader and `inspect`
are checked against models twnn did not write:

- conv-net.onnx       torch.onnx.export (opset 13) of a tiny conv net with a
                      dynamic batch axis: Conv, BatchNormalization, Relu,
                      MaxPool, Flatten, Gemm.
- loop-if.onnx        onnx.helper: a Loop with a constant trip count whose body
                      holds an If; initializers in float_data/int64_data (not
                      raw_data); shape inference adds value_info for every value.
- no-value-info.onnx  onnx.helper: an intermediate value without value_info.

The outputs are deterministic (fixed seed, no timestamps); rerunning rewrites
identical bytes.
"""
import io
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, shape_inference

# The architecture, stated once so tests can read it back (LOOP_IF_TRIP etc.).
CONV_IN = (1, 1, 8, 8)  # N, C, H, W
CONV_CHANNELS = 4
CONV_CLASSES = 3
LOOP_IF_TRIP = 5
LOOP_IF_W = [0.5, -1.0, 2.0]


class TinyConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(CONV_IN[1], CONV_CHANNELS, kernel_size=3, padding=1)
        self.bn = torch.nn.BatchNorm2d(CONV_CHANNELS)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(CONV_CHANNELS * (CONV_IN[2] // 2) * (CONV_IN[3] // 2), CONV_CLASSES)

    def forward(self, x):
        h = self.pool(torch.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(h, 1))


def conv_net() -> bytes:
    torch.manual_seed(0)
    net = TinyConvNet().eval()
    # Non-trivial running statistics, so BatchNormalization's inputs are not all 0/1.
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 1.5)
    buf = io.BytesIO()
    # PRESERVE keeps BatchNormalization as its own node: EVAL mode would fold it into the Conv.
    torch.onnx.export(
        net,
        torch.zeros(CONV_IN),
        buf,
        opset_version=13,
        input_names=['x'],
        output_names=['y'],
        dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}},
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,  # nothing to fold; True warns under PRESERVE
    )
    return buf.getvalue()


def loop_if() -> bytes:
    """acc <- acc + w on even iterations, acc - w on odd ones, LOOP_IF_TRIP times; ys scans acc."""
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    then_g = helper.make_graph(
        [helper.make_node('Add', ['acc_in', 'w'], ['then_out'], name='then/Add')],
        'then_branch', [], [helper.make_tensor_value_info('then_out', f32, [3])])
    else_g = helper.make_graph(
        [helper.make_node('Sub', ['acc_in', 'w'], ['else_out'], name='else/Sub')],
        'else_branch', [], [helper.make_tensor_value_info('else_out', f32, [3])])
    body = helper.make_graph(
        [
            helper.make_node('Identity', ['cond_in'], ['cond_out'], name='body/Identity'),
            helper.make_node('Mod', ['iter', 'two'], ['parity'], name='body/Mod'),
            helper.make_node('Equal', ['parity', 'zero'], ['is_even'], name='body/Equal'),
            helper.make_node('If', ['is_even'], ['acc_out'], name='body/If',
                             then_branch=then_g, else_branch=else_g),
            helper.make_node('Identity', ['acc_out'], ['scan_out'], name='body/Scan'),
        ],
        'loop_body',
        [
            helper.make_tensor_value_info('iter', i64, []),
            helper.make_tensor_value_info('cond_in', TensorProto.BOOL, []),
            helper.make_tensor_value_info('acc_in', f32, [3]),
        ],
        [
            helper.make_tensor_value_info('cond_out', TensorProto.BOOL, []),
            helper.make_tensor_value_info('acc_out', f32, [3]),
            helper.make_tensor_value_info('scan_out', f32, [3]),
        ],
    )
    graph = helper.make_graph(
        [
            helper.make_node('Constant', [], ['cond0'], name='cond0',
                             value=helper.make_tensor('cond0_value', TensorProto.BOOL, [], [True])),
            helper.make_node('Loop', ['M', 'cond0', 'x'], ['acc_final', 'ys'], name='outer_loop', body=body),
            helper.make_node('Relu', ['acc_final'], ['y'], name='relu'),
        ],
        'loop_if',
        [helper.make_tensor_value_info('x', f32, [3])],
        [helper.make_tensor_value_info('y', f32, [3]),
         helper.make_tensor_value_info('ys', f32, [LOOP_IF_TRIP, 3])],
        # make_tensor without raw=True stores values in float_data / int64_data.
        initializer=[
            helper.make_tensor('w', f32, [3], LOOP_IF_W),
            helper.make_tensor('M', i64, [], [LOOP_IF_TRIP]),
            helper.make_tensor('two', i64, [], [2]),
            helper.make_tensor('zero', i64, [], [0]),
        ],
        doc_string='a Loop containing an If, written with onnx.helper',
        # onnx 1.12's shape inference leaves a Loop's carried outputs without a shape: state it.
        value_info=[helper.make_tensor_value_info('acc_final', f32, [3])],
    )
    model = helper.make_model(graph, producer_name='make-fixtures', opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 7
    model = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def no_value_info() -> bytes:
    graph = helper.make_graph(
        [
            helper.make_node('Relu', ['x'], ['hidden'], name='relu'),
            helper.make_node('Neg', ['hidden'], ['y'], name='neg'),
        ],
        'no_value_info',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 2])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['N', 2])],
    )
    model = helper.make_model(graph, producer_name='make-fixtures', opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model.SerializeToString()


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures')
    os.makedirs(out, exist_ok=True)
    for name, make in [('conv-net.onnx', conv_net), ('loop-if.onnx', loop_if), ('no-value-info.onnx', no_value_info)]:
        data = make()
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
        print(f'{name}: {len(data)} bytes')


if __name__ == '__main__':
    np.random.seed(0)
    main()
