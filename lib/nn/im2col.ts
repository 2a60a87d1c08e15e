// SPDX-License-Identifier: MIT
// im2col / col2im on Tensors, in the course's element order.
import * as k from '../core/kernels';
import { describe, expectInt } from '../core/errors';
import { Tensor, asTensor, expectTensor } from '../core/tensor';

/**
 * Unfolds x (N, C, H, W) into a 2-D tensor (N*OH*OW, C*filterH*filterW): one row per output
 * position (ordered n, oh, ow), columns ordered (c, fh, fw); padding reads as zero.
 * @example
 *   const col = im2col(x, 5, 5, 1, 0); // x [10, 3, 7, 7] -> col [90, 75]
 */
export function im2col(x: Tensor, filterH: number, filterW: number, stride = 1, pad = 0): Tensor {
  x = asTensor('im2col', 'x', x);
  if (x.shape.length !== 4) throw new RangeError(`im2col: x must be 4-D (N, C, H, W), got shape [${x.shape.join(', ')}]`);
  const [N, C, H, W] = x.shape;
  const g = { N, C, H, W, FH: expectInt('im2col', 'filterH', filterH), FW: expectInt('im2col', 'filterW', filterW),
    stride: expectInt('im2col', 'stride', stride), pad: expectInt('im2col', 'pad', pad, 0) };
  const { OH, OW } = k.windowOutput('im2col', g);
  const col = Tensor.zeros([N * OH * OW, C * g.FH * g.FW]);
  k.im2col(x.data, col.data, g);
  return col;
}

/**
 * The adjoint of im2col: folds col back into a tensor of inputShape (N, C, H, W), adding up
 * the entries of overlapping windows.
 * @example
 *   const dx = col2im(dcol, [10, 3, 7, 7], 5, 5, 1, 0);
 */
export function col2im(col: Tensor, inputShape: readonly number[], filterH: number, filterW: number,
  stride = 1, pad = 0): Tensor {
  col = asTensor('col2im', 'col', col);
  if (!Array.isArray(inputShape) || inputShape.length !== 4) {
    throw new TypeError(`col2im: inputShape must be [N, C, H, W], got ${describe(inputShape)}`);
  }
  const [N, C, H, W] = inputShape.map((d, i) => expectInt('col2im', `inputShape[${i}]`, d));
  const g = { N, C, H, W, FH: expectInt('col2im', 'filterH', filterH), FW: expectInt('col2im', 'filterW', filterW),
    stride: expectInt('col2im', 'stride', stride), pad: expectInt('col2im', 'pad', pad, 0) };
  const { OH, OW } = k.windowOutput('col2im', g);
  if (col.data.length !== N * OH * OW * C * g.FH * g.FW) {
    throw new RangeError(`col2im: col has shape [${col.shape.join(', ')}], inputShape [${inputShape.join(', ')}] with a ${g.FH}x${g.FW} filter needs [${N * OH * OW}, ${C * g.FH * g.FW}]`);
  }
  const dx = Tensor.zeros([N, C, H, W]);
  k.col2im(col.data, dx.data, g);
  return dx;
}
