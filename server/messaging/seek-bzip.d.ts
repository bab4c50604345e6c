// seek-bzip ships no type declarations; only the one-shot decoder is used.
declare module 'seek-bzip' {
  interface Bunzip {
    decode(input: Uint8Array, output?: Uint8Array, multistream?: boolean): Buffer;
  }
  const bunzip: Bunzip;
  export default bunzip;
}
