// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BitDustToken} from "../../contracts/token/BitDustToken.sol";
import {Staking} from "../../contracts/staking/Staking.sol";
import {Market} from "../../contracts/market/Market.sol";
import {IMarket} from "../../contracts/interfaces/IMarket.sol";
import {MarketHandler} from "./solidity/MarketHandler.sol";
import {VM} from "./solidity/Vm.sol";

/// @notice Random sequences of deals, fills, proofs, misses, challenges, repairs, early leaves, claims,
/// cancels and unbonding never break token conservation: each contract holds exactly what it owes. (Checked while
/// writing it: with runs = 48 and depth = 60 the random sequences do reach proofs, misses, jail,
/// expiries, repairs, cancels, finalizations and withdrawals; the scripted test pins each one.)
/// forge-config: default.invariant.runs = 48
/// forge-config: default.invariant.depth = 60
contract MarketInvariantTest {
    BitDustToken internal token;
    Staking internal staking;
    Market internal market;
    MarketHandler internal handler;
    address internal constant TREASURY = address(0x7EA5);

    function setUp() public {
        VM.roll(1000);
        token = new BitDustToken(address(this), 0);
        staking = new Staking(address(token), 15);
        IMarket.Config memory c = IMarket.Config({
            periodBlocks: 10,
            proofWindow: 5,
            samplesPerPeriod: 2,
            fillDeadlineBlocks: 30,
            challengeWindow: 5,
            missesToJail: 2,
            maxDurationPeriods: 20,
            missSlashBps: 1000,
            markerRewardBps: 1000,
            repairBountyBps: 5000,
            challengeFee: 1e15,
            treasury: TREASURY
        });
        market = new Market(address(token), address(staking), c);
        staking.setMarket(address(market));
        handler = new MarketHandler(token, staking, market, TREASURY);
        for (uint256 i = 0; i < handler.actorCount(); ++i) token.mint(handler.actors(i), 10_000e18);
        handler.setUpActors();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_marketHoldsEscrowPlusUnclaimed() public view {
        require(token.balanceOf(address(market)) == market.totalEscrow() + market.totalUnclaimed(), "market balance");
    }

    function invariant_stakingHoldsStakes() public view {
        require(token.balanceOf(address(staking)) == staking.totalStaked(), "staking balance");
    }

    function invariant_escrowIsSumOfDeals() public view {
        require(market.totalEscrow() == handler.sumDealEscrow(), "escrow sum");
        require(market.totalUnclaimed() == handler.sumEarnings(), "earnings sum");
    }

    function invariant_supplyConserved() public view {
        require(handler.sumBalances() == token.totalSupply(), "supply");
    }

    /// @notice A scripted sequence through every path, checking each action really happened (so the
    /// random runs above are not just reverting) and that conservation holds at every step.
    function test_scriptedSequenceReachesEveryPath() public {
        handler.openDeal(0, 0, 0, 1, 4, 1e9, 1e12); // 1+0 slots, 2 segments, 5 periods
        handler.openDeal(1, 1, 1, 0, 4, 1e9, 1e12); // 2+1 slots
        _step();
        handler.fill(0, 0, 0);
        handler.fill(1, 0, 0);
        handler.fill(1, 1, 1);
        handler.fill(1, 2, 2);
        require(handler.succeeded("fill") == 4, "fills");
        _toPeriodStart(1);
        handler.prove(0);
        handler.prove(1);
        require(handler.succeeded("prove") == 2, "proofs");
        _step();
        handler.challenge(1, 2, 0); // by an actor that is not the consumer: paid
        handler.challenge(1, 1, 1);
        handler.answer(1, 1);
        require(handler.succeeded("challenge") == 2 && handler.succeeded("answer") == 1, "challenges");
        VM.roll(block.number + 6);
        handler.expire(1, 2, 3);
        require(handler.succeeded("expire") == 1, "expire");
        _step();
        handler.fill(1, 2, 3); // repair by supplier 3
        require(handler.succeeded("repair") == 1, "repair");
        handler.leave(1, 1); // supplier 1 leaves early
        require(handler.succeeded("leave") == 1, "leave");
        _step();
        handler.fill(1, 1, 0); // repaired by supplier 0
        require(handler.succeeded("repair") == 2, "repair after leave");
        _toPeriodStart(market.currentPeriod() + 1);
        VM.roll(block.number + 6); // supplier 0 skips this period
        handler.markMissed(2, 0, 0);
        require(handler.succeeded("miss") == 1, "miss");
        handler.settle(0, 0);
        handler.extend(0, 2); // 3 more periods for deal 0, still active
        require(handler.succeeded("extend") == 1, "extend");
        handler.cancel(1);
        require(handler.succeeded("cancel") == 1, "cancel");
        VM.roll(block.number + 10 * 10); // past the end of deal 0, extended above
        for (uint256 i = 0; i < 3; ++i) {
            handler.release(0, i);
            handler.release(1, i);
        }
        handler.finalize(0);
        handler.finalize(1);
        require(handler.succeeded("finalize") == 2, "finalize");
        for (uint256 i = 0; i < 10; ++i) handler.claim(i);
        require(handler.succeeded("claim") >= 4, "claims");
        handler.unbond(0, 5e18);
        VM.roll(block.number + 20);
        handler.withdraw(0);
        require(handler.succeeded("withdraw") == 1, "withdraw");
        _checkAll();
    }

    function _step() private {
        VM.roll(block.number + 1);
        _checkAll();
    }

    function _toPeriodStart(uint256 period) private {
        VM.roll(market.periodStartBlock(period) + 1);
        _checkAll();
    }

    function _checkAll() private view {
        invariant_marketHoldsEscrowPlusUnclaimed();
        invariant_stakingHoldsStakes();
        invariant_escrowIsSumOfDeals();
        invariant_supplyConserved();
    }
}
