// SPDX-License-Identifier: MIT
// 日本語のメッセージ（コマンドラインと演習のレポート）。用語は『ゼロから作る
// Deep Learning』の日本語版に合わせています（認識精度、損失関数、勾配消失、
// 過学習、重みの初期値、アクティベーション、表現力の制限など）。
import type { Messages } from './en';

const f2 = (v: number): string => v.toFixed(2);
const f3 = (v: number): string => v.toFixed(3);
const pct = (v: number): number => Math.round(v * 100);
const actJa = (act: string): string => (act === 'sigmoid' ? 'シグモイド' : act === 'relu' ? 'ReLU' : act);

export const ja: Messages = {
  lang: 'ja',

  common: {
    iterations: 'イテレーション数',
    accuracy: '認識精度',
    trainAccuracy: '訓練データの認識精度',
    testAccuracy: 'テストデータの認識精度',
    loss: '損失関数の値',
    smoothedLoss: '訓練の損失（平滑化）',
    train: '訓練',
    test: 'テスト',
    findings: '結果のまとめ',
    finalAccuracies: '最終的な認識精度',
    comparison: '比較',
    otherCharts: 'その他のグラフ',
    allNumbers: 'グラフのもとになった数値はすべて [results.json](results.json) にあります。',
    never: 'なし',
    stoppedIntro: ' 途中で停止しました。以下は停止までに実行した分です。',
    columns: ['設定', 'イテレーション数', '最終の訓練精度', '最終のテスト精度', '最高のテスト精度', '訓練 − テスト', 'テスト精度が 0.5 以上になった最初のイテレーション'],
    lossNote: '訓練の損失は各ステップの値を、本書の util.smooth_curve と同じ方法で平滑化して描いています。',
  },

  observe: {
    didNotLearn: (final, best, total) => `学習しなかった: テスト精度は ${f2(final)} のまま（${total} イテレーションの間、最高でも ${f2(best)}）`,
    collapsed: (best, final, train) => `学習した後に崩れた: テスト精度は ${f2(best)} まで上がり、${f2(final)} に戻った（訓練 ${f2(train)}）`,
    stalled: (at, final) => `イテレーション ${at} までチャンスレベル付近で停滞し、その後学習した: 最終のテスト精度 ${f2(final)}`,
    learned: (final, half) => `学習した: 最終のテスト精度 ${f2(final)}` + (half !== null ? `、イテレーション ${half} から 0.50 を超えた` : '、0.50 は超えなかった'),
    unstable: (best) => `。不安定: 一度は ${f2(best)} に達していた`,
    overfit: (train, test, gap) => `。訓練 ${f2(train)} に対してテスト ${f2(test)}、差は ${f2(gap)}（過学習）`,
    gap: (train, gap) => `。訓練 ${f2(train)}、差 ${f2(gap)}`,
    stopped: (total) => `（${total} イテレーションで停止）`,
    tooShortChance: (course) => `。学習するかどうかを判断するには短すぎます: 本書のスクリプトは ${course} イテレーション実行します（--iterations ${course}）`,
    tooShortImproving: (gain, course) => `。終了時点でもまだ向上しています（最後の 3 分の 1 でテスト精度 +${f2(gain)}）: 最終的な水準が現れるには短すぎます（本書のスクリプトは ${course} イテレーション）`,
  },

  runLength: {
    ok: (iterations, course) => `実行の長さ: 各設定 ${iterations} イテレーション（本書のスクリプトは ${course}）。どの設定もチャンスレベルを脱し、向上も止まっていたので、以下の比較はそのまま読めます。`,
    okLonger: (iterations, course) => `実行の長さ: 各設定 ${iterations} イテレーションで、本書の ${course} イテレーション以上です。`,
    tooShort: (iterations, course, k, n) => `短すぎます: 各設定 ${iterations} イテレーション（本書は ${course}）。${n} 個の設定のうち ${k} 個が、終了時点でまだチャンスレベルにあるか向上中でした。以下の比較は本来の教訓と逆の結果を示すことがあります。--iterations ${course} で実行し直してください。`,
    caution: '短すぎて結論できません: ',
    sameWithinNoise: (a, b, diff, noise) => `${a} と ${b} の最終的なテスト精度の差は測定の誤差の範囲内です（差 ${f3(diff)}、誤差 ±${f3(noise)}）`,
  },

  vanishing: {
    title: '勾配消失と重みの初期値',
    intro: (hidden, batch, lr, iterations, every, samples) =>
      `隠れ層 [${hidden}] の MultiLayerNet、バッチサイズ ${batch}、SGD（学習率 ${lr}）、${iterations} イテレーション。`
      + `${every} イテレーションごとに訓練データとテストデータの認識精度を測定しています（それぞれ最大 ${samples} 個）。`
      + 'シグモイド関数と ReLU 関数のそれぞれで、重みの初期値を標準偏差 0.01 のガウス分布、Xavier の初期値（sqrt(1/n)）、He の初期値（sqrt(2/n)）にしています。',
    label: (act, init) => `${actJa(act)}、${init}`,
    std: (s) => `標準偏差 ${s}`,
    sweepHidden: (h) => `シグモイド、標準偏差 0.01、隠れ層 ${h}`,
    sweepLr: (lr) => `シグモイド、標準偏差 0.01、学習率 ${lr}`,
    sigmoidFailed: (best) => `標準偏差 0.01 のシグモイドは学習しなかった: 最高のテスト精度は ${f2(best)}`,
    sigmoidLearned: (final) => `標準偏差 0.01 のシグモイドもここでは学習した: テスト精度 ${f2(final)}`,
    reluNever: (total) => `標準偏差 0.01 の ReLU は ${total} イテレーションの間、チャンスレベルを脱しなかった`,
    reluLate: (at, final) => `標準偏差 0.01 の ReLU はイテレーション ${at} までチャンスレベル付近にとどまり、その後 ${f2(final)} に達した`,
    xavier: (act, final) => `Xavier の初期値の${actJa(act)}: テスト精度 ${f2(final)}`,
    act: actJa,
    he: (final, half) => `He の初期値の ReLU: テスト精度 ${f2(final)}、イテレーション ${half} から 0.5 を超えた`,
    compareSigmoid: 'シグモイド: 重みの初期値ごとのテスト精度',
    compareRelu: 'ReLU: 重みの初期値ごとのテスト精度',
    compareSweep: 'シグモイド、標準偏差 0.01: 隠れ層のサイズと学習率',
    lossSigmoid: 'シグモイド: 重みの初期値ごとの訓練の損失',
    lossRelu: 'ReLU: 重みの初期値ごとの訓練の損失',
  },

  optimizers: {
    title: '最適化手法の比較（Batch Normalization の有無）',
    intro: (hidden, batch, iterations, every) =>
      `隠れ層 [${hidden}] の MultiLayerNetExtend、シグモイド関数、重みは標準偏差 0.01 のガウス分布、バッチサイズ ${batch}、`
      + `各設定 ${iterations} イテレーション。${every} イテレーションごとに認識精度を測定しています。`,
    sgd: (lr) => `SGD 学習率 ${lr}`,
    momentum: (m, lr) => `Momentum ${m}、学習率 ${lr}`,
    adagrad: (lr) => `AdaGrad 学習率 ${lr}`,
    rmsprop: (lr, d) => `RMSprop 学習率 ${lr}、減衰率 ${d}`,
    adam: (lr) => `Adam 学習率 ${lr}`,
    withBn: (label) => `${label}、Batch Norm あり`,
    reached: (at) => (at === null ? 'テスト精度 0.50 に届かず' : `イテレーション ${at} でテスト精度 0.50 に達し`),
    momentumLine: (parts) => `Momentum: ${parts.join('。')}`,
    momentumPart: (m, speed, final) => `${m} は${speed}、最終 ${f2(final)}`,
    rmspropLine: (lo, worst, hi, best) => `RMSprop: 最終のテスト精度は ${f2(lo)}（${worst}）から ${f2(hi)}（${best}）まで`,
    bnLine: (faster, compared) => `Batch Normalization によって、${compared} 個の最適化手法のうち ${faster} 個でテスト精度 0.50 への到達が早まった（または最終の精度が上がった）`,
    ranking: (parts) => `最終のテスト精度（高い順）: ${parts.join('、')}`,
    compareOptimizers: '最適化手法ごとのテスト精度（Batch Norm なし）',
    compareMomentum: 'Momentum 0、0.8、0.9',
    compareRmsprop: 'RMSprop: 学習率と減衰率',
    compareBn: 'Batch Norm あり: 最適化手法ごとのテスト精度',
    lossOptimizers: '最適化手法ごとの訓練の損失（Batch Norm なし）',
    lossBn: 'Batch Norm あり: 最適化手法ごとの訓練の損失',
  },

  overfitting: {
    title: '過学習と正則化',
    intro: (hidden, n, lr, batch, iterations) =>
      `隠れ層 [${hidden}] の MultiLayerNetExtend（ReLU、He の初期値）を ${n} 個の訓練データで学習します。`
      + `特に記さない限り SGD（学習率 ${lr}）、バッチサイズ ${batch}、各設定 ${iterations} イテレーションです。`,
    none: '正則化なし',
    l2: (l) => `L2（Weight decay）λ ${l}`,
    l1: (l) => `L1 λ ${l}`,
    dropout: (d) => `Dropout ${d}`,
    dropoutL1: (d, l) => `Dropout ${d} + L1 λ ${l}`,
    otherOptimizer: (name, lr, d) => `${name}（学習率 ${lr}）+ Dropout ${d}`,
    baseline: (train, test, gap) => `正則化なし: 訓練 ${f2(train)}、テスト ${f2(test)}、差 ${f2(gap)}`,
    stoppedLearning: '学習が止まった',
    sameGap: '差はほぼ同じ',
    narrower: (gap) => `差 ${f2(gap)}（縮小）`,
    wider: (gap) => `差 ${f2(gap)}（拡大）`,
    part: (label, verdict, test) => `${label}: ${verdict}、テスト ${f2(test)}`,
    notMemorised: (train, course) => `過学習が現れるには短すぎます: 正則化なしでも訓練精度は終了時点で ${f2(train)} にとどまっています。`
      + `過学習は、ネットワークが訓練データを覚え込んで訓練精度が 1.00 近くになってから現れ、本書のスクリプトでは約 ${course} イテレーションでそこに達します。`
      + '以下の差はまだ本来の教訓を示すものではありません。',
    compareL2Test: 'L2: λ ごとのテスト精度',
    compareL2Train: 'L2: λ ごとの訓練精度',
    compareL1Test: 'L1: λ ごとのテスト精度',
    compareDropout: 'Dropout: 比率ごとのテスト精度',
    compareOptimizers: 'Dropout を使った最適化手法ごとのテスト精度',
  },

  convnet: {
    title: '畳み込みニューラルネットワーク',
    intro: (lr, batch, iterations, every, samples) =>
      `SimpleConvNet（畳み込み 30×5×5、ReLU、プーリング 2×2、Affine 100、ReLU、Affine 10）と MultiLayerNet [100, 100]。`
      + `どちらも Adam（学習率 ${lr}）、バッチサイズ ${batch}、${iterations} イテレーション。`
      + `${every} イテレーションごとに、それぞれのデータの最大 ${samples} 個で認識精度を測定しています。`,
    walkHeading: 'im2col の動き',
    walkText: 'im2col はフィルターを当てる範囲を 1 行ずつに展開するので、畳み込みは 1 回の行列の積になります。col2im は行を元の形に戻し、重なった部分は足し合わせます。',
    walkColumns: ['入力 (N, C, H, W)', 'フィルター', 'ストライド', 'パディング', '出力', 'im2col', 'col2im', '1 画素を覆う範囲の最大数', 'col2im(im2col(x)) − x×覆う数'],
    walkLine: (shape, f, stride, pad, oh, ow, col, back, count, err) =>
      `x ${shape}、フィルター ${f}×${f}、ストライド ${stride}、パディング ${pad}: 出力 ${oh}×${ow}、`
      + `im2col → ${col}（N*OH*OW 行、C*FH*FW 列）、col2im → ${back}。`
      + `各画素は最大 ${count} 個の範囲に覆われ、col2im(im2col(x)) は x × 覆う数と ${err} 以内で一致`,
    cnn: 'SimpleConvNet',
    mlp: 'MultiLayerNet [100, 100]',
    finding: (label, acc, iterations, ms) => `${label}: ${iterations} イテレーション後のテスト精度 ${f3(acc)}、1 イテレーションあたり ${ms.toFixed(2)} ms`,
    timeRatio: (r) => `SimpleConvNet の 1 イテレーションの時間は MultiLayerNet の ${r.toFixed(1)} 倍`,
    cnnWins: (diff) => `SimpleConvNet の最終のテスト精度は MultiLayerNet より ${f3(diff)} 高い: 画像の 2 次元の形を生かす畳み込みの効果が現れています`,
    cnnLoses: (diff) => `SimpleConvNet の最終のテスト精度は MultiLayerNet より ${f3(diff)} 低い`,
    cnnLosesShort: (diff, course) => `短すぎて結論できません: SimpleConvNet はまだ MultiLayerNet より ${f3(diff)} 低いものの、向上を続けています。`
      + `本書では 20 エポック（${course} イテレーション）学習し、その間に MLP を追い越します。--iterations 1000 以上で実行し直してください。`,
    timeHeading: '1 イテレーションあたりの時間',
    timeColumns: ['ネットワーク', 'イテレーション数', '1 イテレーションの時間 (ms)'],
    filtersHeading: '1 層目のフィルター',
    filtersText: '正方形 1 つが 5×5 のフィルター 1 枚で、フィルターごとに最小値から最大値までの濃淡で表示しています（最大の重みが黒）。',
    filtersBefore: '学習前の 1 層目のフィルター',
    filtersAfter: (n) => `${n} イテレーション学習した後の 1 層目のフィルター`,
    compareTest: 'SimpleConvNet と MultiLayerNet: テスト精度',
    timeLog: (label, ms, batch) => `${label}: 1 イテレーションあたり ${ms.toFixed(2)} ms（バッチサイズ ${batch}）`,
    start: (label, lr, iterations) => `${label}、Adam 学習率 ${lr}、${iterations} イテレーション`,
    evalLog: (label, it, tr, te) => `  ${label} イテレーション ${it}: 訓練 ${tr.toFixed(3)}、テスト ${te.toFixed(3)}`,
  },

  activations: {
    title: '重みの初期値とアクティベーションの分布',
    intro: (samples, nodes, layers) =>
      `本書の weight_init_activation_histogram.py です。ガウス分布に従う ${nodes} 次元のデータ ${samples} 個を、${nodes} ユニットの隠れ層 ${layers} 層（バイアスなし）に通します。`
      + '重みは 標準偏差 × randn で、標準偏差は 1、0.01、Xavier の初期値（sqrt(1/n)）、He の初期値（sqrt(2/n)）です。'
      + '各図は 5 つの層のアクティベーション（活性化関数の後の出力）のヒストグラム（30 区間）です。'
      + 'シグモイドと ReLU は本書と同じく (0, 1) の範囲で、tanh は値の半分が負になるので (−1, 1) の範囲で描いています。'
      + 'ReLU の縦軸は本書の図と同じく全体の 7% で切っています（0 の棒に値の半分が集まるため）。',
    sigmoid: 'シグモイド',
    tanh: 'tanh',
    relu: 'ReLU',
    init: { 'std1': '標準偏差 1', 'std0.01': '標準偏差 0.01', xavier: 'Xavier', he: 'He' },
    setting: (act, init) => `${act}、${init}`,
    layer: (i) => `${i} 層目`,
    xLabel: 'アクティベーション',
    yLabel: '個数',
    saturated: (lo, hi) => `${lo} と ${hi} に偏っている（飽和）`,
    collapsed: (v) => `${v} に集中している`,
    spread: '広がりを保っている',
    shrinks: '層を重ねるごとに縮む',
    grows: '層を重ねるごとに大きくなる',
    layers: (a, b) => (a === b ? `${a} 層目` : `${a}〜${b} 層目`),
    observation: (word, details) => `${word}（${details.join('、')}）`,
    detailSaturated: (frac, lo, hi) => `値の ${pct(frac)}% が ${lo} または ${hi} から 0.02 以内`,
    detailCollapsed: (frac, v) => `値の ${pct(frac)}% が ${v} から 0.05 以内`,
    detailStd: (first, last) => `標準偏差は 1 層目 ${first.toPrecision(2)}、5 層目 ${last.toPrecision(2)}`,
    detailOutside: (frac) => `5 層目の値の ${pct(frac)}% は 1 を超え、図の範囲外`,
    lessonSigmoid: (std1, std001, xavier) => `シグモイド: 標準偏差 1 では ${std1}、標準偏差 0.01 では ${std001}、Xavier の初期値では ${xavier}。`
      + '飽和したユニットでは勾配がほぼ 0 になり（勾配消失）、どのユニットもほぼ同じ値を出すなら層やユニットを増やしても意味がありません（表現力の制限）。Xavier の初期値は分布の広がりを保ちます。',
    lessonTanh: (xavier) => `Xavier の初期値の tanh: ${xavier}。`,
    lessonRelu: (std001, xavier, he) => `ReLU: 標準偏差 0.01 では ${std001}、Xavier の初期値では ${xavier}、He の初期値では ${he}。`
      + 'He の初期値の sqrt(2/n) は、ReLU が入力の半分を 0 にする分を補います。',
    tableHeading: '各層のアクティベーションの標準偏差',
    tableColumns: ['設定', '1 層目', '2 層目', '3 層目', '4 層目', '5 層目', '観察'],
    figuresHeading: (act) => act,
    thresholds: 'しきい値: 値の 30% を超える分が範囲の端から 0.02 以内にある層を「飽和」とします（標準偏差 1 では 57〜82%、ほかの設定では最大 10%）。'
      + '値の 80% を超える分が中央から 0.05 以内にあれば「集中」です（標準偏差 0.01 では 95〜100%、ほかは最大 39%）。'
      + 'ReLU では 5 層目と 1 層目の標準偏差の比で判断し、2 倍を超えれば「大きくなる」、0.5 倍未満なら「縮む」、0.05 倍未満なら「0 に集中」とします。',
  },

  cli: {
    root: 'OpenBLAS の上で動くゼロから作るディープラーニング: ネットワークの学習と本書の演習',
    lang: 'メッセージとレポートの言語: en または ja',
    help: 'コマンドの使い方を表示する',
    version: 'blasnet のバージョンを表示する',
    helpTitles: { 'Usage:': '使い方:', 'Options:': 'オプション:', 'Commands:': 'コマンド:', 'Arguments:': '引数:' },
    sep: '',
    defaultValue: (v) => `（既定値: ${v}）`,
    choices: (v) => `（選択肢: ${v}）`,
    train: {
      description: 'MNIST 形式のデータでネットワークを学習し（エポックごとにチェックポイント）、モデルを保存して学習曲線のレポートを書く',
      net: 'ネットワーク', epochs: '訓練データを何周するか（エポック数）', batchSize: '1 ステップのサンプル数（バッチサイズ）', optimizer: '最適化手法',
      lr: '学習率（省略時: simple-convnet の adam は 0.003、ほかは最適化手法の既定値で adam は 0.001、ほかは 0.01）',
      seed: '重み、シャッフル、Dropout の乱数のシード',
      data: '4 つの IDX ファイルがあるフォルダ（MNIST、Fashion-MNIST、KMNIST）。省略時は同梱の 8,000/2,000 枚の数字',
      out: '実行フォルダ（省略時は ./runs/train-<日時>）', maxIterations: '全体でこのステップ数を実行したら終える',
      evalSamples: '各エポック後の認識精度に使う各データのサンプル数（最終のテスト精度は全部を使う）',
      augment: '各エポックで、各訓練画像を最大 2 画素ずらしたコピー（毎回新しくずらす）もこの数だけ学習する（0: しない）',
      lrDrop: '最後の n エポックを学習率の 10 分の 1 で学習する（0: しない）',
      average: '重みの移動平均の減衰率（重みの平均化。--average-epochs を参照）',
      averageEpochs: '最後の n エポックの重みを平均する。保存するモデルと認識精度は平均した重みのもの（0: しない）',
      builtin: '同梱の数字データ',
      samples: (train, augment, test) => `訓練 ${train} 枚${augment ? `（+ エポックごとに新しくずらしたコピー 各 ${augment} 枚）` : ''}、テスト ${test} 枚`,
      start: (net, data, samples, opt, lr, drop, average, batch, iterations, epochs, seed) =>
        `${net} を ${data}（${samples}）で学習: ${opt} 学習率 ${lr}${drop}${average}、バッチサイズ ${batch}、${iterations} イテレーション（${epochs} エポック）、シード ${seed}`,
      drop: (lr, at) => `（イテレーション ${at} から ${lr}）`,
      averaging: (decay, at) => `、イテレーション ${at} から重みを平均（減衰率 ${decay}）`,
      done: (stopped, iterations, seconds) => `${iterations} イテレーションで${stopped ? '停止' : '完了'}（${seconds.toFixed(1)} 秒）`,
      model: (file) => `モデル: ${file}`,
      report: (file) => `レポート: ${file}`,
      testAccuracy: (acc) => `テスト精度: ${acc.toFixed(4)}`,
      checkpointEvery: 'チェックポイントを書く間隔のイテレーション数（省略時は 1 エポックごと）',
      checkFinite: "損失が NaN や無限大になったらイテレーションを示す（'loss'）、または毎ステップ勾配も調べて層を示す（'layers'）",
      resume: 'このフォルダの実行をチェックポイントから同じ設定で続ける（中断しなかった実行とビット単位で同じ結果になる）',
      resumeOthers: (flags) => `--resume は設定をすべて実行のチェックポイントから取ります。${flags} を外してください`,
      resumeNoFolder: (d) => `--resume ${d}: フォルダがありません`,
      resumeNoCheckpoint: (d, file) => `--resume ${d}: ${file} がありません（最初のチェックポイントの前に止まった実行です）。--out ${d} でもう一度始めてください`,
      resumeNotTrain: (file) => `${file}: blasnet train が書いたものではありません（メタデータに設定がありません）`,
      resuming: (dir, at, total) => `${dir} をイテレーション ${at}/${total} から再開`,
      freeSpaceFor: 'この実行（チェックポイント 2 つ、モデル、レポート）',
      checkFiniteHint: '--check-finite layers を付けて実行する',
      nanNoCheckpoint: 'チェックポイントは書かれていません。何も保存していません',
      nanKept: (file, at) => `最後の正常なチェックポイントを残しました: ${file}（イテレーション ${at}）。モデルは保存していません`,
      checkpoint: (file, resumeDir) => `チェックポイント: ${file}${resumeDir ? `（続けるには: blasnet train --resume ${resumeDir}）` : ''}`,
    },
    evaluate: {
      description: '`blasnet train` で保存したモデルの認識精度を測る',
      model: 'モデルファイル（train の実行で保存した model.safetensors）', data: 'テストデータの IDX ファイル（t10k-*。--train では train-* も）があるフォルダ。省略時は同梱の数字データ',
      train: '訓練データの認識精度も測る', batchSize: '1 回の順伝播のサンプル数',
      noFile: (f) => `--model ${f}: ファイルがありません`,
      modelLine: (file, kind) => `モデル: ${file}（${kind}）`,
      dataLine: (d) => `データ: ${d}`,
      builtin: '同梱の数字データ',
      converted: (what) => `注: ${what}。読み込み時に float32 に変換しました`,
      trainAcc: (acc, n) => `訓練精度: ${acc.toFixed(4)}（${n} 枚）`,
      testAcc: (acc, n, s) => `テスト精度: ${acc.toFixed(4)}（${n} 枚、${s.toFixed(1)} 秒）`,
    },
    gradcheck: {
      description: '誤差逆伝播法の勾配を数値微分の勾配と比べる（勾配確認）。しきい値を超えると終了コード 1',
      threshold: '許容する相対誤差の最大値', seed: 'ランダムな重みと入力のシード',
      attempts: 'ReLU や Max プーリングの折れ目の近くに当たったときに引き直す回数',
      noCourse: '本書の gradient_check.py（3 枚の MNIST の数字での TwoLayerNet、float32 と float64）を省く',
      header: '相対誤差 ||誤差逆伝播法 − 数値微分|| / (||誤差逆伝播法|| + ||数値微分||)、各ネットワークで最も大きいパラメータ:',
      afterKinks: (k) => `、折れ目の近くで ${k} 回引き直し`,
      inconclusive: '  判定不能: どの試行も折れ目の近くだった',
      above: '  しきい値を超過',
      noConclusive: '判定できた確認がありません',
      worst: (e, name, param, threshold, ok) => `最大の相対誤差: ${e}（${name}、${param}）。しきい値 ${threshold}: ${ok ? 'OK' : '不合格'}`,
      courseHeader: (data, loss) => `本書の gradient_check.py: TwoLayerNet(784, 50, 10)、データは${data}、損失 ${loss.toFixed(4)}。パラメータごとの |誤差逆伝播法 − 数値微分| の平均:`,
      courseData: { mnist: '最初の 3 枚の訓練データ（x_train[:3]）', random: 'MNIST と同じ形のランダムな入力 3 個（数字データを読み込めなかったため）' },
      courseColumns: ['パラメータ', 'float32、h = 1e-3（全要素）', 'float64、h = 1e-4', '|勾配| の平均'],
      sampled: (n, total) => (n === total ? '全要素' : `${total} 個中 ${n} 個`),
      why: (e32, e64, loss) => [
        'float32 の列が本書の値（およそ 1e-10 以下）より大きい理由:',
        `  本書は float64（計算機イプシロン ${e64}）で計算し、blasnet は float32（イプシロン ${e32}）で計算します。`,
        `  中心差分 (L(w + h) − L(w − h)) / 2h では、損失の丸め誤差（およそ イプシロン × ${loss.toFixed(2)}、バッチでの和をとるとさらに大きい）が`,
        '  2h で割られます。float32 で h = 1e-3 なら 1 要素あたり最大 1e-4 程度の誤差になるので、平均の差が 1e-6〜1e-4、',
        '  上の表の相対誤差が 1e-4〜1e-2 になるのは正常です。誤差逆伝播法の実装が間違っていれば、相対誤差は 1 に近くなります。',
        '  float64 の列は数値微分の側だけを float64、本書と同じ h = 1e-4 で計算し直したもの（一部の要素で確認）です。',
        '  残る差（各勾配のおよそ 1e-6）は、blasnet の誤差逆伝播法そのものの float32 の丸め誤差です。',
      ],
    },
    experiment: {
      description: '本書の演習を 1 つ（またはすべて）実行し、グラフとレポートを書く',
      name: '演習',
      iterations: '各設定の学習ステップ数（vanishing-gradient 2000、optimizers 1000、overfitting 1000、convnet 500）',
      batchSize: '1 ステップのサンプル数（100）', lr: '演習の基本の最適化手法の学習率（all とは併用不可）',
      evalEvery: 'n イテレーションごとに認識精度を測る（10、convnet は 50）', evalSamples: '1 回の測定に使う各データのサンプル数（2000、convnet は 1000）',
      seed: '各設定の前に設定する乱数のシード', data: '4 つの IDX ファイルがあるフォルダ。省略時は同梱の数字データ',
      out: '実行フォルダ（省略時は ./runs/<演習名>-<日時>）', noSweep: 'vanishing-gradient: 隠れ層のサイズと学習率を変える追加の実行を省く',
      lrWithAll: '--lr は演習ごとに別の最適化手法の学習率を指すので、all ではなく演習を 1 つ指定して使ってください',
    },
    outNotFolder: (o) => `--out ${o} はすでにあり、フォルダではありません`,
    outNotEmpty: (o) => `--out ${o} は空ではありません。実行は以前の実行フォルダに書き込みません`,
    noDataFolder: (d) => `--data ${d}: フォルダがありません`,
    interruptedAgain: '再び中断されました: これ以上書き込まずに終了します',
    interrupted: '中断: 実行中のステップを終え、ここまでの結果を書き込みます（すぐ終えるにはもう一度 Ctrl-C）',
    stopSignal: (sig) => `${sig}: 実行中のステップを終え、ここまでの結果を書き込みます（もう一度シグナルを送るとすぐ終了）`,
    stopSignalAgain: (sig) => `再び ${sig}: これ以上書き込まずに終了します`,
    outHasCheckpoint: (o) => `--out ${o} には以前の実行のチェックポイントがあります。続けるには --resume ${o}、または別の --out を指定してください`,
    progressLine: (epoch, it, total, loss, tr, te, secs, eta) =>
      `エポック ${epoch}  イテレーション ${it}/${total}  損失 ${loss}  訓練精度 ${tr}  テスト精度 ${te}  ${secs.toFixed(1)} 秒`
      + (Number.isFinite(eta) ? `、残り約 ${eta.toFixed(0)} 秒` : ''),
    error: 'エラー',
    bar: '{bar} {percentage}% | イテレーション {value}/{total} | 残り {eta_formatted} | 損失 {loss} | 訓練 {trainAcc} | テスト {testAcc}',
    usageHint: (cmd) => `詳しくは '${cmd} --help' を実行してください。`,
  },

  report: {
    ranIn: (name, file) => `${name}: レポート ${file}`,
    doneIn: (stopped, seconds, dir) => `${stopped ? '停止' : '完了'}（${seconds.toFixed(1)} 秒）。実行フォルダ ${dir}`,
    progress: (i, n, label, obs) => `[${i}/${n}] ${label}: ${obs}`,
    configurations: (name, n, iterations) => `${name}: ${n} 個の設定、各 ${iterations} イテレーション`,
  },
};
