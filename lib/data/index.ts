// SPDX-License-Identifier: MIT
// Data sets: the course's load_mnist and the IDX reader under it.
export {
  loadMnist, loadMnistSet, loadIdxPair, loadBuiltinDigits, findMnistFiles, builtinCachePath, defaultCacheDir,
  BUILTIN_COUNT, BUILTIN_TRAIN_COUNT,
} from './mnist';
export type { LoadMnistOptions, LoadMnistSetOptions, MnistFormatOptions, MnistData, LabelledImages, BuiltinDigits } from './mnist';
export {
  readIdx, readIdxImages, readIdxLabels, parseIdx, readMaybeGzip, findIdxFile,
  IdxFormatError, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IDX_MAX_BYTES,
} from './idx';
export type { IdxArray, IdxImages, IdxLabels } from './idx';
