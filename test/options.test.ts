// SPDX-License-Identifier: MIT
// Every options object of the public API rejects unknown keys, naming the valid ones, and maps
// the course's snake_case spellings (and its `dropout_ration`) to blasnet's in a "did you mean".
import { describe, expect, test } from '@jest/globals';
import {
  Adam, Affine, BatchNormalization, Convolution, DeepConvNet, Dropout, MultiLayerNet, MultiLayerNetExtend,
  Sequential, SGD, SimpleConvNet, Tensor, Trainer,
} from '../lib';
import { suggestName } from '../lib/core/errors';
import { caught } from './helpers/errors';

const mlp = { inputSize: 4, hiddenSizeList: [3], outputSize: 2 };

describe('unknown options are refused with the valid names and a hint', () => {
  const cases: Array<[string, () => unknown, string]> = [
    ['MultiLayerNet weight_decay_lambda', () => new MultiLayerNet({ ...mlp, weight_decay_lambda: 0.1 } as never), 'weightDecayLambda'],
    ['MultiLayerNet weight_init_std', () => new MultiLayerNet({ ...mlp, weight_init_std: 0.01 } as never), 'weightInitStd'],
    ['MultiLayerNetExtend useBatchNorm', () => new MultiLayerNetExtend({ ...mlp, useBatchNorm: true } as never), 'useBatchnorm'],
    ['MultiLayerNetExtend dropout_ration', () => new MultiLayerNetExtend({ ...mlp, useDropout: true, dropout_ration: 0.2 } as never), 'dropoutRatio'],
    ['SimpleConvNet conv_param', () => new SimpleConvNet({ conv_param: { filterNum: 3 } } as never), 'convParam'],
    ['SimpleConvNet convParam.filter_num', () => new SimpleConvNet({ convParam: { filter_num: 3 } } as never), 'filterNum'],
    ['DeepConvNet hidden_size', () => new DeepConvNet({ hidden_size: 10 } as never), 'hiddenSize'],
    ['Affine skipInputGradients', () => new Affine(Tensor.zeros([2, 2]), Tensor.zeros([2]), { skipInputGradients: true } as never), 'skipInputGradient'],
    ['Convolution skip_input_gradient', () => new Convolution(Tensor.zeros([1, 1, 2, 2]), Tensor.zeros([1]), 1, 0, { skip_input_gradient: true } as never), 'skipInputGradient'],
    ['Dropout invert', () => new Dropout(0.5, { invert: true } as never), 'inverted'],
    ['BatchNormalization running_mean', () => new BatchNormalization(Tensor.zeros([2]), Tensor.zeros([2]), 0.9, { running_mean: Tensor.zeros([2]) } as never), 'runningMean'],
    ['Sequential weight_decay_lambda', () => new Sequential([new Affine(Tensor.zeros([2, 2]), Tensor.zeros([2]))], { weight_decay_lambda: 1 } as never), 'weightDecayLambda'],
    ['Adam learning_rate', () => new Adam({ learning_rate: 0.1 } as never), 'lr'],
  ];
  test.each(cases)('%s', (_name, call, hint) => {
    const e = caught(call);
    expect(e.name).toBe('RangeError');
    expect(e.message).toMatch(/unknown option '\w+'/);
    expect(e.message).toContain(`did you mean '${hint}'?`);
    expect(e.message).toContain('valid options are');
  });

  test('Trainer: the course names optimizer_param and epoch', () => {
    const net = new MultiLayerNet(mlp);
    const x = Tensor.zeros([4, 4]);
    const t = new Int32Array(4);
    const a = caught(() => new Trainer(net, x, t, x, t, { optimizer_param: { lr: 0.5 } } as never));
    expect(a.message).toContain("did you mean 'optimizerParam'?");
    const b = caught(() => new Trainer(net, x, t, x, t, { epoch: 1 } as never));
    expect(b.message).toContain("did you mean 'epochs'?");
  });

  test('Trainer: optimizerParam beside an optimizer object is refused, not dropped', () => {
    const net = new MultiLayerNet(mlp);
    const x = Tensor.zeros([4, 4]);
    const t = new Int32Array(4);
    const e = caught(() => new Trainer(net, x, t, x, t, { optimizer: new SGD({ lr: 0.1 }), optimizerParam: { lr: 0.5 } }));
    expect(e.name).toBe('TypeError');
    expect(e.message).toMatch(/^Trainer: optimizerParam applies to an optimizer given by name/);
    // by name it is used
    const tr = new Trainer(net, x, t, x, t, { optimizer: 'sgd', optimizerParam: { lr: 0.5 } });
    expect((tr.optimizer as SGD).lr).toBe(0.5);
  });

  test('an options value that is not an object is a TypeError naming the call', () => {
    const e = caught(() => new Dropout(0.5, 3 as never));
    expect(e.name).toBe('TypeError');
    expect(e.message).toMatch(/^Dropout: options must be an object/);
  });

  test('valid options still work, and the saved config rebuilds the same network', () => {
    const net = new MultiLayerNetExtend({ ...mlp, useDropout: true, dropoutRatio: 0.2, useBatchnorm: true, weightDecayLambda: 0.1 });
    expect(net.weightDecayLambda).toBe(0.1);
    expect(net.layers.map((l) => l.name)).toEqual(['Affine', 'BatchNormalization', 'Relu', 'Dropout', 'Affine']);
    expect((net.layers[3] as Dropout).ratio).toBe(0.2);
  });
});

describe('suggestName', () => {
  test('maps course names, case and underscores, and near misses; nothing for far ones', () => {
    expect(suggestName('dropout_ration', ['dropoutRatio', 'useDropout'])).toBe('dropoutRatio');
    expect(suggestName('HIDDEN_SIZE', ['hiddenSize'])).toBe('hiddenSize');
    expect(suggestName('momentun', ['lr', 'momentum'])).toBe('momentum');
    expect(suggestName('colour', ['lr', 'momentum'])).toBeUndefined();
    // A course name whose blasnet name is not valid here gives no misleading hint.
    expect(suggestName('use_batchnorm', ['inputSize', 'outputSize'])).toBeUndefined();
  });
});
