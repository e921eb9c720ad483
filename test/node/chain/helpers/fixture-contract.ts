/**
 * A tiny contract compiled with solc-js for the transaction-layer tests, so that they do not
 * depend on the BitDust contracts' progress: a custom error with arguments, a require string,
 * a panic, and a counter to watch state and nonces.
 */
import { createRequire } from 'node:module'
import type { Abi, Hex } from 'viem'

const SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Counter {
  error CounterTooHigh(uint256 value, uint256 max);
  event Counted(address indexed by, uint256 value);
  uint256 public count;
  uint256 public immutable max;
  constructor(uint256 max_) { max = max_; }
  function inc() external { if (count + 1 > max) revert CounterTooHigh(count + 1, max); count += 1; emit Counted(msg.sender, count); }
  function needs(uint256 x) external pure returns (uint256) { require(x > 10, "x must exceed ten"); return x; }
  function divide(uint256 x) external pure returns (uint256) { return 100 / x; }
  mapping(uint256 => uint256) private sink;
  bool public flag;
  function setFlag(bool f) external { flag = f; }
  // Cheap while the flag is down, expensive once it is up: a gas estimate can go stale.
  function heavyIfFlag() external { if (flag) { for (uint256 i = 0; i < 100; i++) sink[i] = block.number + 1; } count += 0; }
  // Passes while the flag is down: a simulation can go stale.
  function failIfFlag() external { if (flag) revert CounterTooHigh(1, 0); count += 0; }
}`

let cached: { abi: Abi, bytecode: Hex } | undefined

export function counterArtifact (): { abi: Abi, bytecode: Hex } {
  if (cached !== undefined) return cached
  const require = createRequire(import.meta.url)
  const solc = require('solc') as { compile: (input: string) => string }
  const input = {
    language: 'Solidity',
    sources: { 'Counter.sol': { content: SOURCE } },
    settings: { evmVersion: 'cancun', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  }
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: Array<{ severity: string, formattedMessage: string }>
    contracts: Record<string, Record<string, { abi: Abi, evm: { bytecode: { object: string } } }>>
  }
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
  const c = out.contracts['Counter.sol']?.Counter
  if (c === undefined) throw new Error('Counter did not compile')
  cached = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` }
  return cached
}
