// The dynamic section of an ELF shared library: which libraries it needs
// (DT_NEEDED) and where it asks the loader to look (DT_RUNPATH / DT_RPATH).
// `twnn doctor` reads it from the installed CUDA EP library so that it checks
// exactly what that build links against, without ldd (which would load it).
import { closeSync, openSync, readSync } from 'node:fs';
import { FormatError } from '../common/errors.js';

/** What an ELF file's dynamic section says about loading it. */
export interface ElfDynamic {
  /** DT_NEEDED entries, in file order (sonames such as `libcudart.so.13`). */
  needed: string[];
  /** DT_RUNPATH (or, when there is none, DT_RPATH) entries, unexpanded (`$ORIGIN/`). */
  runpath: string[];
  soname?: string;
}

const SHT_DYNAMIC = 6;
const DT_NEEDED = 1;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
/** ELF64 header and section header sizes. */
const EHDR_SIZE = 64;
const SHDR_SIZE = 64;

/**
 * Read the dynamic section of a 64-bit little-endian ELF file (x86-64 and
 * arm64 Linux libraries). Only the headers, the dynamic section and its string
 * table are read, so a 200 MB library costs a few kilobytes. A file that is
 * not such an ELF, or is truncated, is a FormatError naming it.
 *
 * @example
 * readElfDynamic('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node').needed
 * // ['libonnxruntime.so.1', 'libstdc++.so.6', ...]
 */
export function readElfDynamic(path: string): ElfDynamic {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new FormatError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const read = (offset: number, length: number): Buffer => {
      const buf = Buffer.alloc(length);
      const got = readSync(fd, buf, 0, length, offset);
      if (got !== length) throw new FormatError(`${path}: truncated ELF file (wanted ${length} bytes at offset ${offset})`);
      return buf;
    };
    const header = Buffer.alloc(EHDR_SIZE);
    // An empty or short file is no ELF file at all, rather than a truncated one.
    if (readSync(fd, header, 0, EHDR_SIZE, 0) !== EHDR_SIZE || header.readUInt32BE(0) !== 0x7f454c46) throw new FormatError(`${path}: not an ELF file`);
    if (header[4] !== 2 || header[5] !== 1) throw new FormatError(`${path}: not a 64-bit little-endian ELF file`);
    const shoff = Number(header.readBigUInt64LE(0x28));
    const shentsize = header.readUInt16LE(0x3a);
    const shnum = header.readUInt16LE(0x3c);
    if (shoff === 0 || shnum === 0 || shentsize < SHDR_SIZE) throw new FormatError(`${path}: ELF file without section headers`);
    const sections = read(shoff, shnum * shentsize);
    const section = (i: number) => {
      const at = i * shentsize;
      return {
        type: sections.readUInt32LE(at + 4),
        offset: Number(sections.readBigUInt64LE(at + 0x18)),
        size: Number(sections.readBigUInt64LE(at + 0x20)),
        link: sections.readUInt32LE(at + 0x28),
      };
    };
    const result: ElfDynamic = { needed: [], runpath: [] };
    const dynamicIndex = Array.from({ length: shnum }, (_, i) => i).find((i) => section(i).type === SHT_DYNAMIC);
    // A static executable or a plain object file needs nothing.
    if (dynamicIndex === undefined) return result;
    const dynamic = section(dynamicIndex);
    if (dynamic.link >= shnum) throw new FormatError(`${path}: ELF dynamic section links to a missing string table`);
    const strtab = section(dynamic.link);
    const strings = read(strtab.offset, strtab.size);
    const text = (offset: number) => {
      if (offset >= strings.length) throw new FormatError(`${path}: ELF dynamic entry points past its string table`);
      const end = strings.indexOf(0, offset);
      return strings.toString('utf8', offset, end < 0 ? strings.length : end);
    };
    const entries = read(dynamic.offset, dynamic.size);
    let rpath: string[] = [];
    for (let at = 0; at + 16 <= entries.length; at += 16) {
      const tag = Number(entries.readBigInt64LE(at));
      const value = Number(entries.readBigUInt64LE(at + 8));
      if (tag === 0) break;
      if (tag === DT_NEEDED) result.needed.push(text(value));
      else if (tag === DT_SONAME) result.soname = text(value);
      else if (tag === DT_RUNPATH) result.runpath = splitPath(text(value));
      else if (tag === DT_RPATH) rpath = splitPath(text(value));
    }
    // The loader ignores DT_RPATH when DT_RUNPATH is present.
    if (result.runpath.length === 0) result.runpath = rpath;
    return result;
  } finally {
    closeSync(fd);
  }
}

function splitPath(text: string): string[] {
  return text.split(':').filter((p) => p !== '');
}
