import { expect } from 'chai'
import { network } from 'hardhat'
import { E18, signPermit } from './helpers/fixture.ts'

const { ethers, networkHelpers } = await network.create()

async function fixture () {
  const [owner, alice, bob] = await ethers.getSigners()
  if (!owner || !alice || !bob) throw new Error('signers')
  const token = await ethers.deployContract('BitDustToken', [owner.address, 5n * E18])
  const closed = await ethers.deployContract('BitDustToken', [owner.address, 0n])
  return { token, closed, owner, alice, bob }
}

describe('BitDustToken', function () {
  it('is "BitDust" / "DUST" with 18 decimals', async function () {
    const { token } = await networkHelpers.loadFixture(fixture)
    expect(await token.name()).to.equal('BitDust')
    expect(await token.symbol()).to.equal('DUST')
    expect(await token.decimals()).to.equal(18n)
  })

  describe('mint', function () {
    it('lets the owner mint', async function () {
      const { token, alice } = await networkHelpers.loadFixture(fixture)
      await token.mint(alice.address, 7n)
      expect(await token.balanceOf(alice.address)).to.equal(7n)
    })
    it('rejects when the caller is not the owner', async function () {
      const { token, alice } = await networkHelpers.loadFixture(fixture)
      await expect(token.connect(alice).mint(alice.address, 1n)).to.be.revertedWithCustomError(token, 'OwnableUnauthorizedAccount').withArgs(alice.address)
    })
  })

  describe('faucet', function () {
    it('pays the faucet amount to the caller', async function () {
      const { token, alice } = await networkHelpers.loadFixture(fixture)
      await expect(token.connect(alice).faucet()).to.emit(token, 'FaucetDripped').withArgs(alice.address, 5n * E18)
      expect(await token.balanceOf(alice.address)).to.equal(5n * E18)
    })
    it('rejects when the faucet is disabled', async function () {
      const { closed, alice } = await networkHelpers.loadFixture(fixture)
      await expect(closed.connect(alice).faucet()).to.be.revertedWithCustomError(closed, 'TokenFaucetDisabled')
    })
  })

  describe('permit', function () {
    it('sets an allowance from an EIP-2612 signature', async function () {
      const { token, alice, bob } = await networkHelpers.loadFixture(fixture)
      const { deadline, v, r, s } = await signPermit(ethers, alice, await token.getAddress(), bob.address, 9n)
      await token.permit(alice.address, bob.address, 9n, deadline, v, r, s)
      expect(await token.allowance(alice.address, bob.address)).to.equal(9n)
      expect(await token.nonces(alice.address)).to.equal(1n)
    })
  })
})
