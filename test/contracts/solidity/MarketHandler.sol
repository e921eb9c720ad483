// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BitDustToken} from "../../../contracts/token/BitDustToken.sol";
import {Staking} from "../../../contracts/staking/Staking.sol";
import {Market} from "../../../contracts/market/Market.sol";
import {IMarket} from "../../../contracts/interfaces/IMarket.sol";
import {VM} from "./Vm.sol";

/// @dev Drives random sequences of market actions for the invariant tests. Fragments have 1 or 2
/// segments whose bytes derive from the slot id, so valid proofs are easy to build in Solidity;
/// the production verifier is used unchanged. Reverts are swallowed: only the invariants matter.
contract MarketHandler {
    uint256 internal constant CONSUMERS = 3;
    uint256 internal constant SUPPLIERS = 4;

    BitDustToken public immutable token;
    Staking public immutable staking;
    Market public immutable market;
    address public immutable treasury;
    address[] public actors;
    bytes32[] public deals;
    mapping(bytes32 slotId => uint256) public segmentsOf;
    uint256 private _salt;
    uint256 public calls;
    /// @dev Successful actions by name, so tests can check the sequences do reach every path.
    mapping(bytes32 action => uint256) public succeeded;

    constructor(BitDustToken token_, Staking staking_, Market market_, address treasury_) {
        token = token_;
        staking = staking_;
        market = market_;
        treasury = treasury_;
        for (uint256 i = 0; i < CONSUMERS + SUPPLIERS; ++i) {
            address a = address(uint160(0xA000 + i));
            actors.push(a);
        }
    }

    /// @dev Called by the test's setUp after minting to the actors.
    function setUpActors() external {
        for (uint256 i = 0; i < actors.length; ++i) {
            address a = actors[i];
            VM.prank(a);
            token.approve(address(market), type(uint256).max);
            VM.prank(a);
            token.approve(address(staking), type(uint256).max);
            if (i >= CONSUMERS) {
                VM.prank(a);
                staking.register(abi.encodePacked(uint16(i)), 1e12, 1);
                VM.prank(a);
                staking.stake(1_000e18);
            }
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function dealCount() external view returns (uint256) {
        return deals.length;
    }

    // ------------------------------------------------------------ proofs in Solidity

    function segment(bytes32 sid, uint256 i) public pure returns (bytes memory) {
        bytes32 h = keccak256(abi.encode(sid, i));
        return abi.encodePacked(h, h, h, h, h, h, h, h);
    }

    function rootOf(bytes32 sid, uint256 segments) public pure returns (bytes32) {
        if (segments == 1) return sha256(segment(sid, 0));
        return sha256(abi.encodePacked(sha256(segment(sid, 0)), sha256(segment(sid, 1))));
    }

    function proofOf(bytes32 sid, uint256 segments, uint256 seg) public pure returns (bytes memory) {
        if (segments == 1) return segment(sid, 0);
        return abi.encodePacked(segment(sid, seg), sha256(segment(sid, 1 - seg)));
    }

    // ------------------------------------------------------------ actions

    function _consumer(uint256 seed) private view returns (address) {
        return actors[seed % CONSUMERS];
    }

    function _supplier(uint256 seed) private view returns (address) {
        return actors[CONSUMERS + seed % SUPPLIERS];
    }

    function _deal(uint256 seed) private view returns (bool ok, bytes32 id, IMarket.Deal memory d) {
        if (deals.length == 0) return (false, 0, d);
        id = deals[seed % deals.length];
        d = market.getDeal(id);
        ok = true;
    }

    function advance(uint256 blocks) external {
        calls++;
        VM.roll(block.number + 1 + blocks % 12);
    }

    function openDeal(uint256 who, uint256 k, uint256 m, uint256 segs, uint256 duration, uint256 price, uint256 collateral) external {
        calls++;
        IMarket.DealParams memory p = IMarket.DealParams({
            dataSlots: uint8(1 + k % 2),
            paritySlots: uint8(m % 2),
            fragmentSize: uint64(256 * (1 + segs % 2)),
            durationPeriods: uint32(1 + duration % 5),
            pricePerBytePeriod: uint128(1 + price % 1e12),
            collateralPerByte: uint128(collateral % 1e15)
        });
        address c = _consumer(who);
        bytes32 salt = bytes32(++_salt);
        bytes32 id = market.dealId(c, salt);
        uint256 slots = uint256(p.dataSlots) + p.paritySlots;
        bytes32[] memory roots = new bytes32[](slots);
        for (uint256 i = 0; i < slots; ++i) {
            bytes32 sid = market.slotId(id, i);
            segmentsOf[sid] = p.fragmentSize / 256;
            roots[i] = rootOf(sid, p.fragmentSize / 256);
        }
        VM.prank(c);
        try market.openDeal(p, salt, roots) {
            deals.push(id);
            succeeded["open"]++;
        } catch {}
    }

    /// @dev Fills every slot of a deal (so random runs reach active deals, challenges and repairs).
    function fillAll(uint256 dealSeed, uint256 who) external {
        (bool found,, IMarket.Deal memory d) = _deal(dealSeed);
        if (!found) return;
        uint256 slots = uint256(d.dataSlots) + d.paritySlots;
        for (uint256 i = 0; i < slots; ++i) this.fill(dealSeed, i, who + i);
    }

    function fill(uint256 dealSeed, uint256 index, uint256 who) public {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok || block.number < 2) return;
        index %= uint256(d.dataSlots) + d.paritySlots;
        address s = _supplier(who);
        bytes32 sid = market.slotId(id, index);
        uint256 seedBlock = block.number - 1;
        uint256 seg = market.fillSegment(id, index, s, seedBlock);
        // Build the proof first: the sha256 precompile call would consume the prank.
        bytes memory proof = proofOf(sid, segmentsOf[sid], seg);
        VM.prank(s);
        try market.fillSlot(id, index, seedBlock, proof) {
            succeeded[d.state == IMarket.DealState.Active ? bytes32("repair") : bytes32("fill")]++;
        } catch {}
    }

    function prove(uint256 who) external {
        calls++;
        address s = _supplier(who);
        uint256 period = market.currentPeriod();
        try market.periodSamples(s, period) returns (bytes32[] memory ids, uint256[] memory segs) {
            bytes memory blob;
            for (uint256 j = 0; j < ids.length; ++j) {
                blob = abi.encodePacked(blob, proofOf(ids[j], segmentsOf[ids[j]], segs[j]));
            }
            VM.prank(s);
            try market.provePeriod(period, blob) {
                succeeded["prove"]++;
            } catch {}
        } catch {}
    }

    function markMissed(uint256 who, uint256 supplierSeed, uint256 back) public {
        calls++;
        uint256 current = market.currentPeriod();
        back %= 3;
        if (back > current) return;
        VM.prank(actors[who % actors.length]);
        try market.markMissed(_supplier(supplierSeed), current - back) {
            succeeded["miss"]++;
        } catch {}
    }

    function challenge(uint256 dealSeed, uint256 index, uint256 who) public {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok) return;
        VM.prank(actors[who % actors.length]);
        try market.challengeSlot(id, index % (uint256(d.dataSlots) + d.paritySlots)) {
            succeeded["challenge"]++;
        } catch {}
    }

    function answer(uint256 dealSeed, uint256 index) external {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok) return;
        index %= uint256(d.dataSlots) + d.paritySlots;
        bytes32 sid = market.slotId(id, index);
        address holder = market.getSlot(id, index).holder;
        try market.challengeSegment(id, index) returns (uint256 seg) {
            bytes memory proof = proofOf(sid, segmentsOf[sid], seg);
            VM.prank(holder);
            try market.answerChallenge(id, index, proof) {
                succeeded["answer"]++;
            } catch {}
        } catch {}
    }

    function expire(uint256 dealSeed, uint256 index, uint256 who) public {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok) return;
        VM.prank(actors[who % actors.length]);
        try market.expireChallenge(id, index % (uint256(d.dataSlots) + d.paritySlots)) {
            succeeded["expire"]++;
        } catch {}
    }

    /// @dev Challenge, let it expire, repair: a whole failure-and-repair cycle in one step, so random
    /// runs reach the bounty path often.
    function failAndRepair(uint256 dealSeed, uint256 index, uint256 who) external {
        this.challenge(dealSeed, index, who);
        VM.roll(block.number + market.config().challengeWindow + 1);
        this.expire(dealSeed, index, who);
        this.fill(dealSeed, index, who + 1);
    }

    /// @dev A supplier misses periods until it is jailed; its slots then become repairable by fillAll.
    function missUntilJailed(uint256 supplierSeed, uint256 who) external {
        IMarket.Config memory c = market.config();
        for (uint256 i = 0; i < c.missesToJail; ++i) {
            uint256 next = market.currentPeriod() + 1;
            VM.roll(market.periodStartBlock(next) + c.proofWindow + 1);
            this.markMissed(who, supplierSeed, 0);
        }
    }

    function settle(uint256 dealSeed, uint256 index) external {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok) return;
        try market.settleSlot(id, index % (uint256(d.dataSlots) + d.paritySlots)) {
            succeeded["settle"]++;
        } catch {}
    }

    function release(uint256 dealSeed, uint256 index) external {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok) return;
        try market.releaseSlot(id, index % (uint256(d.dataSlots) + d.paritySlots)) {
            succeeded["release"]++;
        } catch {}
    }

    /// @dev The slot's holder leaves it early (collateral into the bounty); fill then repairs it.
    function leave(uint256 dealSeed, uint256 index) external {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok) return;
        index %= uint256(d.dataSlots) + d.paritySlots;
        address holder = market.getSlot(id, index).holder;
        if (holder == address(0)) return;
        VM.prank(holder);
        try market.leaveSlot(id, index) {
            succeeded["leave"]++;
        } catch {}
    }

    function extend(uint256 dealSeed, uint256 periods) external {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok) return;
        VM.prank(d.consumer);
        try market.extendDeal(id, 1 + periods % 5) {
            succeeded["extend"]++;
        } catch {}
    }

    function cancel(uint256 dealSeed) external {
        calls++;
        (bool ok, bytes32 id, IMarket.Deal memory d) = _deal(dealSeed);
        if (!ok) return;
        VM.prank(d.consumer);
        try market.cancelDeal(id) {
            succeeded["cancel"]++;
        } catch {}
    }

    function finalize(uint256 dealSeed) external {
        calls++;
        (bool ok, bytes32 id,) = _deal(dealSeed);
        if (!ok) return;
        try market.finalizeDeal(id) {
            succeeded["finalize"]++;
        } catch {}
    }

    function claim(uint256 who) external {
        calls++;
        address a = who % 5 == 0 ? treasury : actors[who % actors.length];
        VM.prank(a);
        try market.claim() {
            succeeded["claim"]++;
        } catch {}
    }

    function unbond(uint256 who, uint256 amount) external {
        calls++;
        VM.prank(_supplier(who));
        try staking.requestUnbond(1 + amount % 100e18) {
            succeeded["unbond"]++;
        } catch {}
    }

    function withdraw(uint256 who) external {
        calls++;
        VM.prank(_supplier(who));
        try staking.withdraw() {
            succeeded["withdraw"]++;
        } catch {}
    }

    // ------------------------------------------------------------ ghost sums

    /// @dev Escrow + bounty of every deal + fees of pending paid challenges, computed from the deals.
    function sumDealEscrow() external view returns (uint256 sum) {
        uint256 fee = market.config().challengeFee;
        for (uint256 i = 0; i < deals.length; ++i) {
            IMarket.Deal memory d = market.getDeal(deals[i]);
            sum += uint256(d.escrow) + d.bounty;
            uint256 slots = uint256(d.dataSlots) + d.paritySlots;
            for (uint256 j = 0; j < slots; ++j) {
                if (market.getChallenge(deals[i], j).feePaid) sum += fee;
            }
        }
    }

    /// @dev Sum of unclaimed earnings of every account that can earn.
    function sumEarnings() external view returns (uint256 sum) {
        for (uint256 i = 0; i < actors.length; ++i) sum += market.earnings(actors[i]);
        sum += market.earnings(treasury);
    }

    /// @dev Tokens in the hands of actors, treasury and the two contracts.
    function sumBalances() external view returns (uint256 sum) {
        for (uint256 i = 0; i < actors.length; ++i) sum += token.balanceOf(actors[i]);
        sum += token.balanceOf(treasury) + token.balanceOf(address(market)) + token.balanceOf(address(staking));
    }
}
