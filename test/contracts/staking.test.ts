import { expect } from 'chai'
import { network } from 'hardhat'
import { E18, UNBONDING_BLOCKS, signPermit } from './helpers/fixture.ts'

const { ethers, networkHelpers } = await network.create()

async function fixture () {
  const [owner, alice, bob, market] = await ethers.getSigners()
  if (!owner || !alice || !bob || !market) throw new Error('signers')
  const token = await ethers.deployContract('BitDustToken', [owner.address, 0n])
  const staking = await ethers.deployContract('Staking', [await token.getAddress(), UNBONDING_BLOCKS])
  // An EOA plays the market so each market-only call can be driven directly.
  await staking.setMarket(market.address)
  for (const a of [alice, bob]) {
    await token.mint(a.address, 100n * E18)
    await token.connect(a).approve(await staking.getAddress(), 2n ** 255n)
  }
  await staking.connect(alice).register('0x1234', 1000n, 5n)
  return { token, staking, owner, alice, bob, market }
}

describe('Staking', function () {
  describe('setMarket', function () {
    it('rejects a second wiring', async function () {
      const { staking, market } = await networkHelpers.loadFixture(fixture)
      await expect(staking.setMarket(market.address)).to.be.revertedWithCustomError(staking, 'StakingMarketAlreadySet').withArgs(market.address)
    })
    it('rejects when the caller is not the deployer', async function () {
      const { token, alice } = await networkHelpers.loadFixture(fixture)
      const fresh = await ethers.deployContract('Staking', [await token.getAddress(), 1n])
      await expect(fresh.connect(alice).setMarket(alice.address)).to.be.revertedWithCustomError(fresh, 'StakingNotOwner').withArgs(alice.address)
    })
  })

  describe('register', function () {
    it('stores the peer id, capacity and price', async function () {
      const { staking, bob } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(bob).register('0xabcdef', 77n, 3n)).to.emit(staking, 'SupplierRegistered').withArgs(bob.address, '0xabcdef', 77n, 3n)
      const s = await staking.supplier(bob.address)
      expect([s.peerId, s.capacity, s.pricePerBytePeriod]).to.deep.equal(['0xabcdef', 77n, 3n])
      expect(await staking.isRegistered(bob.address)).to.equal(true)
    })
    it('rejects an empty peer id', async function () {
      const { staking, bob } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(bob).register('0x', 1n, 1n)).to.be.revertedWithCustomError(staking, 'StakingEmptyPeerId')
    })
  })

  describe('stake', function () {
    it('pulls tokens and counts them', async function () {
      const { staking, token, alice } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(alice).stake(10n)).to.emit(staking, 'Staked').withArgs(alice.address, 10n, 10n)
      expect(await staking.totalStaked()).to.equal(10n)
      expect(await token.balanceOf(await staking.getAddress())).to.equal(10n)
    })
    it('rejects zero', async function () {
      const { staking, alice } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(alice).stake(0n)).to.be.revertedWithCustomError(staking, 'StakingZeroAmount')
    })
    it('rejects an unregistered supplier', async function () {
      const { staking, bob } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(bob).stake(1n)).to.be.revertedWithCustomError(staking, 'StakingNotRegistered').withArgs(bob.address)
    })
    it('accepts a permit instead of an approve', async function () {
      const { staking, token, bob } = await networkHelpers.loadFixture(fixture)
      await staking.connect(bob).register('0x01', 1n, 1n)
      await token.connect(bob).approve(await staking.getAddress(), 0n)
      const { deadline, v, r, s } = await signPermit(ethers, bob, await token.getAddress(), await staking.getAddress(), 4n)
      await staking.connect(bob).stakeWithPermit(4n, deadline, v, r, s)
      expect((await staking.stakeOf(bob.address)).staked).to.equal(4n)
    })
  })

  describe('lockCollateral / unlockCollateral', function () {
    it('locks free stake and unlocks it', async function () {
      const { staking, alice, market } = await networkHelpers.loadFixture(fixture)
      await staking.connect(alice).stake(10n)
      await expect(staking.connect(market).lockCollateral(alice.address, 6n)).to.emit(staking, 'CollateralLocked').withArgs(alice.address, 6n, 6n)
      expect(await staking.freeStake(alice.address)).to.equal(4n)
      await expect(staking.connect(market).unlockCollateral(alice.address, 6n)).to.emit(staking, 'CollateralUnlocked').withArgs(alice.address, 6n, 0n)
      expect(await staking.freeStake(alice.address)).to.equal(10n)
    })
    it('rejects when free stake is short', async function () {
      const { staking, alice, market } = await networkHelpers.loadFixture(fixture)
      await staking.connect(alice).stake(10n)
      await expect(staking.connect(market).lockCollateral(alice.address, 11n)).to.be.revertedWithCustomError(staking, 'StakingInsufficientStake').withArgs(alice.address, 10n, 11n)
    })
    it('rejects an unregistered supplier', async function () {
      const { staking, bob, market } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(market).lockCollateral(bob.address, 1n)).to.be.revertedWithCustomError(staking, 'StakingNotRegistered').withArgs(bob.address)
    })
    it('rejects when the caller is not the market', async function () {
      const { staking, alice } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(alice).lockCollateral(alice.address, 1n)).to.be.revertedWithCustomError(staking, 'StakingNotMarket').withArgs(alice.address)
      await expect(staking.connect(alice).unlockCollateral(alice.address, 1n)).to.be.revertedWithCustomError(staking, 'StakingNotMarket').withArgs(alice.address)
    })
  })

  describe('slash', function () {
    it('takes stake to the market and releases collateral', async function () {
      const { staking, token, alice, market } = await networkHelpers.loadFixture(fixture)
      await staking.connect(alice).stake(10n)
      await staking.connect(market).lockCollateral(alice.address, 8n)
      await expect(staking.connect(market).slash(alice.address, 5n, 8n)).to.emit(staking, 'StakeSlashed').withArgs(alice.address, 5n, 8n)
      expect(await token.balanceOf(market.address)).to.equal(5n)
      const st = await staking.stakeOf(alice.address)
      expect([st.staked, st.locked]).to.deep.equal([5n, 0n])
      expect(await staking.totalStaked()).to.equal(5n)
    })
    it('caps the slash at the stake left', async function () {
      const { staking, alice, market } = await networkHelpers.loadFixture(fixture)
      await staking.connect(alice).stake(3n)
      await expect(staking.connect(market).slash(alice.address, 5n, 0n)).to.emit(staking, 'StakeSlashed').withArgs(alice.address, 3n, 0n)
    })
    it('rejects when the caller is not the market', async function () {
      const { staking, alice } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(alice).slash(alice.address, 1n, 0n)).to.be.revertedWithCustomError(staking, 'StakingNotMarket').withArgs(alice.address)
    })
  })

  describe('requestUnbond / withdraw', function () {
    it('pays out after the unbonding delay, not before', async function () {
      const { staking, token, alice } = await networkHelpers.loadFixture(fixture)
      await staking.connect(alice).stake(10n)
      await staking.connect(alice).requestUnbond(4n)
      const unlock = (await staking.stakeOf(alice.address)).unlockBlock
      await expect(staking.connect(alice).withdraw()).to.be.revertedWithCustomError(staking, 'StakingStillBonded')
      await networkHelpers.mineUpTo(unlock - 1n)
      const before = await token.balanceOf(alice.address)
      await expect(staking.connect(alice).withdraw()).to.emit(staking, 'Withdrawn').withArgs(alice.address, 4n)
      expect(await token.balanceOf(alice.address)).to.equal(before + 4n)
      expect((await staking.stakeOf(alice.address)).staked).to.equal(6n)
    })
    it('rejects unbonding stake that backs collateral', async function () {
      const { staking, alice, market } = await networkHelpers.loadFixture(fixture)
      await staking.connect(alice).stake(10n)
      await staking.connect(market).lockCollateral(alice.address, 7n)
      await expect(staking.connect(alice).requestUnbond(4n)).to.be.revertedWithCustomError(staking, 'StakingInsufficientStake').withArgs(alice.address, 3n, 4n)
    })
    it('rejects zero and a withdraw with nothing unbonding', async function () {
      const { staking, alice } = await networkHelpers.loadFixture(fixture)
      await expect(staking.connect(alice).requestUnbond(0n)).to.be.revertedWithCustomError(staking, 'StakingZeroAmount')
      await expect(staking.connect(alice).withdraw()).to.be.revertedWithCustomError(staking, 'StakingNothingUnbonding').withArgs(alice.address)
    })
    it('pays only what survived a slash during unbonding', async function () {
      const { staking, alice, market } = await networkHelpers.loadFixture(fixture)
      await staking.connect(alice).stake(10n)
      await staking.connect(market).lockCollateral(alice.address, 5n)
      await staking.connect(alice).requestUnbond(5n)
      await staking.connect(market).slash(alice.address, 3n, 0n)
      await networkHelpers.mine(UNBONDING_BLOCKS)
      await expect(staking.connect(alice).withdraw()).to.emit(staking, 'Withdrawn').withArgs(alice.address, 2n)
    })
  })
})
