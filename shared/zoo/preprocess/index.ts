/** The zoo's preprocessing and postprocessing contracts, for the edge and for clients. */
export {
  tokenize, encodeText, splitWords, wordId,
  PAD_ID, CLS_ID, SEP_ID, UNK_ID, FIRST_WORD_ID, VOCAB_SIZE, SEQUENCE_LENGTH, type TokenizerOptions,
} from './tokenizer.js';
export { preprocessImages, imageToChw, IMAGE_SIZE, IMAGE_MEAN, IMAGE_STD, type RgbImage, type ImagePreprocessOptions } from './image.js';
export {
  logMelFeatures, logMelInto, audioFilterbank,
  SAMPLE_RATE, WINDOW_SAMPLES, HOP_SAMPLES, FFT_SIZE, MEL_BANDS, FRAMES, LOG_FLOOR,
} from './audio.js';
export { fftInPlace, powerSpectrum, spectrumScratch, type SpectrumScratch } from './fft.js';
export { hzToMel, melToHz, melFilterbank, applyMel, type MelFilterbank } from './mel.js';
export { softmax, topK, meanTop1Prob, ctcGreedyDecode, tokensToText, CTC_BLANK, type Prediction } from './postprocess.js';
