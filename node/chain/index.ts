/**
 * node/chain: the only part of the node that talks to the chain (viem).
 *
 *   createBitDustChain({ rpcUrl, chainId, contracts, deployBlock, privateKey })  → BitDustChain
 *     .token / .staking / .market   typed calls and reads (staking.stakeOf is the p2p StakeChecker)
 *     .getEvents / .watchEvents     decoded events, resumable polling
 *   statement(chain, account)  /  audit(chain)  the ledger and the audit
 *   startLocalChain / deployBitDust / fundAccounts  the devnet and `npm run deploy`
 */
export { BitDustChain, createBitDustChain } from './client.ts'
export type { BitDustChainInit } from './client.ts'
export { TokenApi } from './token.ts'
export { StakingApi } from './staking.ts'
export type { RegisterParams } from './staking.ts'
export { MarketApi } from './market.ts'
export { TxSender } from './tx.ts'
export type { AbortOptions, SendOptions, TxProgress, TxSenderInit, ContractCall } from './tx.ts'
export { connect, chainFor } from './connect.ts'
export type { ChainClients, ConnectInit } from './connect.ts'
export { getEvents, watchEvents } from './events.ts'
export type { ChainEvent, EventWatcher, WatchInit, GetEventsOptions } from './events.ts'
export { rebuild, statement, statementToJson, emptyAccount } from './ledger.ts'
export type { LedgerLine, RebuiltAccount, Statement } from './ledger.ts'
export { audit, auditToJson } from './audit.ts'
export type { AuditDifference, AuditReport, AuditProgress } from './audit.ts'
export { startLocalChain } from './local-chain.ts'
export type { LocalChain, LocalChainInit, LocalAccount } from './local-chain.ts'
export { deployBitDust, fundAccounts } from './deploy.ts'
export type { BitDustAddresses, Deployment, DeployProgress } from './deploy.ts'
export { DEVNET_PARAMS, DEFAULT_PARAMS, PARAM_PRESETS, DUST } from './deploy-params.ts'
export type { DeployParams, MarketConfigParams } from './deploy-params.ts'
export { ensureCompiled, loadArtifact, needsCompile } from './artifacts.ts'
export { describeRevert, registerRevertMessages } from './revert-messages.ts'
export * from './errors.ts'
export * from './types.ts'
export { supplierView, uploadView, watchView, slotIdLocal } from './views.ts'
export type { SlotRef } from './views.ts'
export { isEvent } from './event-types.ts'
export type { BitDustEventArgs, BitDustEventName, TypedChainEvent } from './event-types.ts'
