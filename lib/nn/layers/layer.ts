// SPDX-License-Identifier: MIT
// What every layer has, and the buffer cache that keeps training steps free of
// allocation: a layer asks for its output buffer by name and shape and gets
// the same Float32Array back as long as the size does not change.
import { Tensor } from '../../core/tensor';

export interface Layer {
  /** Layer kind, e.g. 'Affine'. */
  readonly name: string;
  /** Learnable parameters keyed as in the course ('W', 'b'; 'gamma', 'beta'); live tensors. */
  readonly params: Record<string, Tensor>;
  /** Gradients with the same keys, filled by backward(). */
  readonly grads: Record<string, Tensor>;
  /**
   * Forward pass. The returned tensor is the layer's own buffer, reused by the next call
   * with the same batch size: clone() it to keep it.
   */
  forward(x: Tensor, train?: boolean): Tensor;
  /**
   * Backward pass: the gradient with respect to the last forward's input. `inputGradient =
   * false` says nobody needs that gradient (a network's first layer): a layer may then skip
   * computing it and return zeros of the input's shape. Layers that always compute it may
   * ignore the argument.
   */
  backward(dout: Tensor, inputGradient?: boolean): Tensor;
  /** Output shape for an input shape (without the batch dimension), or a ShapeError. */
  outputShape?(inputShape: readonly number[]): number[];
}

/** Reusable output buffers, one per name, reallocated only when the element count changes. */
export class Buffers {
  private readonly cache = new Map<string, Tensor>();

  get(name: string, shape: readonly number[]): Tensor {
    let size = 1;
    for (const d of shape) size *= d;
    const t = this.cache.get(name);
    if (t !== undefined && t.data.length === size && sameShape(t.shape, shape)) return t;
    const fresh = t !== undefined && t.data.length === size ? new Tensor(t.data, shape) : new Tensor(new Float32Array(size), shape);
    this.cache.set(name, fresh);
    return fresh;
  }

  getInt(name: string, size: number): Int32Array {
    const key = `#${name}`;
    const t = this.ints.get(key);
    if (t !== undefined && t.length === size) return t;
    const fresh = new Int32Array(size);
    this.ints.set(key, fresh);
    return fresh;
  }

  private readonly ints = new Map<string, Int32Array>();
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}
